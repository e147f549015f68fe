"""Evaluation of generators: in the training loop (`eval_every`) and on checkpoints.

    python -m jgan.evaluate --workdir runs/ring [--metrics modes] [--num 2500] [--step N]

Metrics on 2-D data (`modes`) compare samples with the dataset's mode centres. Metrics on images
(fid, kid, pr, dc) need a feature network; none ships with jgan yet, so they are refused with an
error rather than computed on the wrong features.
"""
import argparse
import json
import sys

import jax
import numpy as np

from jgan import checkpoint, data, metrics
from jgan.sample import generate

_TOY_METRICS = ("modes",)


def evaluate(config, apply_fn, g_vars, names, num: int, seed: int = 0) -> dict:
    """Runs metrics `names` on `num` samples of G (fixed z from `seed`) for `config`'s dataset."""
    for name in names:
        metrics.get(name)  # Unknown names fail here, listing the valid ones.
    if config.dataset.name not in data.pipeline.TOY_2D:
        raise ValueError(f"metrics {list(names)} need a feature network for image data, which jgan "
                         f"does not ship yet; for 2-D data use {list(_TOY_METRICS)}")
    bad = [n for n in names if n not in _TOY_METRICS]
    if bad:
        raise ValueError(f"metrics {bad} do not apply to 2-D data; expected {list(_TOY_METRICS)}")
    samples = np.asarray(generate(apply_fn, g_vars, jax.random.key(seed), num, config.model.z_dim))
    centres, std = data.toy2d.modes(config.dataset.name)
    results = {}
    for name in names:
        results.update(metrics.get(name)(samples, None, centres=centres, std=std))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--metrics", default="modes", help="comma-separated metric names")
    parser.add_argument("--num", type=int, default=2500, help="samples to draw")
    parser.add_argument("--step", type=int, help="checkpoint step (default: the latest)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ema", action="store_true")
    args = parser.parse_args(argv)
    try:
        G, g_vars, config = checkpoint.load_generator(args.workdir, args.step, ema=not args.no_ema)
        results = evaluate(config, G.apply, g_vars, args.metrics.split(","), args.num, args.seed)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
