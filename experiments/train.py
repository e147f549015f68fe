"""Trains a GAN: `python experiments/train.py --config CONFIG --workdir DIR [--config.key=value]`.

The same as `jgan train` (CONFIG: a name such as `ring2d`, or a path such as
experiments/configs/ring2d.py); the logic lives in `jgan.run.loop.train_and_evaluate`.
"""
import sys

from jgan.run import cli

if __name__ == "__main__":
    sys.argv = ["jgan", "train", *sys.argv[1:]]
    cli.main()
