"""Trains a GAN: `python experiments/train.py --config CONFIG --workdir DIR [--config.key=value]`.

The logic lives in `jgan.train.train_and_evaluate`, where tests and notebooks can import it.
With no --config it runs the seed DCGAN on Fashion-MNIST (experiments/configs/seed_dcgan_fashion_mnist.py).
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # For experiments.configs.*

from jgan import cli  # noqa: E402

if __name__ == "__main__":
    cli.run_train()
