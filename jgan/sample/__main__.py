"""Samples from a checkpoint, with no dataset: `python -m jgan.sample --workdir W --out grid.png`.

    python -m jgan.sample --workdir runs/fmnist [--step N] [--num 64] [--seed S]
        [--labels 0,1,2 | --class K] [--no-ema] --out grid.png|samples.npz

A .png is a grid of 8 columns (uint8; a scatter plot for 2-D models); a .npz holds `images` in
[-1, 1]. Only the generator is restored.
"""
import argparse
import pathlib
import sys

import jax
import numpy as np

from jgan import checkpoint, plots, writers
from jgan.sample import generate


def _labels(args, num_classes):
    if args.labels is None and args.class_ is None:
        return None
    if not num_classes:
        raise ValueError("--labels/--class given, but the checkpoint's model is not class-conditional")
    wanted = [args.class_] if args.class_ is not None else [int(x) for x in args.labels.split(",")]
    bad = [k for k in wanted if not 0 <= k < num_classes]
    if bad:
        raise ValueError(f"labels {bad} are outside the model's classes 0..{num_classes - 1}")
    return np.resize(np.array(wanted, np.int32), args.num)  # Cycled to --num samples.


def run(args) -> pathlib.Path:
    out = pathlib.Path(args.out)
    if out.suffix not in (".png", ".npz"):
        raise ValueError(f"--out {out} must end in .png or .npz")
    G, variables, config = checkpoint.load_generator(args.workdir, args.step, ema=not args.no_ema)
    labels = _labels(args, config.model.get("num_classes"))
    images = np.asarray(generate(G.apply, variables, jax.random.key(args.seed), args.num,
                                 config.model.z_dim, labels))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        np.savez(out, images=images, **({} if labels is None else {"labels": labels}))
    else:
        picture = plots.scatter(images) if images.ndim == 2 else plots.image_grid(images, cols=8)
        out.write_bytes(writers.png_bytes(picture))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--step", type=int, help="checkpoint step (default: the latest)")
    parser.add_argument("--num", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--labels", help="comma-separated classes, cycled to --num")
    group.add_argument("--class", dest="class_", type=int, help="one class for every sample")
    parser.add_argument("--no-ema", action="store_true", help="the raw G instead of its EMA")
    parser.add_argument("--out", required=True, help="grid.png or samples.npz")
    args = parser.parse_args(argv)
    try:
        print(f"wrote {run(args)}")
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
