"""Data: TFDS datasets through grain, image folders, 2-D toy mixtures, and offline preparation of
CIFAR-10/100, MNIST, Fashion-MNIST and CelebA as TFDS datasets without TensorFlow."""
from jgan.data import celeb_a, cifar, fashion_mnist, folder, mnist, toy2d
from jgan.data.pipeline import make_iterator, preprocess
from jgan.data.prepare import ensure_prepared

__all__ = ["celeb_a", "cifar", "ensure_prepared", "fashion_mnist", "folder", "make_iterator",
           "mnist", "preprocess", "toy2d"]
