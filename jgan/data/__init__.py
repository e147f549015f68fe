"""Data: TFDS datasets through grain, image folders, 2-D toy mixtures, offline Fashion-MNIST."""
from jgan.data import fashion_mnist, folder, toy2d
from jgan.data.pipeline import make_iterator, preprocess
from jgan.data.prepare import ensure_prepared

__all__ = ["ensure_prepared", "fashion_mnist", "folder", "make_iterator", "preprocess", "toy2d"]
