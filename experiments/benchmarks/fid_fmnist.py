"""Fashion-MNIST domain FID/KID (`fid_fmnist`, `kid_fmnist`) for reference sets and checkpoints.

    python -m jgan.metrics.classifier                       # once: trains the feature network
    python experiments/benchmarks/fid_fmnist.py [--workdir runs/fmnist ...] [--num 10000]

Every row is scored against the first `--num` train images (the cached reference statistics the
training loop uses). `test split` should be near 0 (same distribution, other images); `uniform
noise` is the scale of a failed G; each `--workdir` gives two rows, the latest checkpoint's G-EMA
and raw G on `--num` samples, exactly as `jgan evaluate [--no-ema]` scores them.
"""
import argparse
import time

import numpy as np


from jgan.run.configs import default  # noqa: E402
from jgan import data  # noqa: E402
from jgan.metrics import evaluate  # noqa: E402
from jgan.run import checkpoint  # noqa: E402

_METRICS = ["fid_fmnist", "kid_fmnist"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", action="append", default=[], help="a run to score (repeatable)")
    parser.add_argument("--num", type=int, default=10_000)
    parser.add_argument("--data_dir")
    args = parser.parse_args()
    config = default.get_config()
    config.dataset.data_dir, config.eval.num_real = args.data_dir, args.num
    data.ensure_prepared("fashion_mnist", args.data_dir)
    rows = {
        "test split": data.pipeline.load_split("fashion_mnist", "test", (28, 28, 1), args.data_dir,
                                               args.num)["image"],
        "uniform noise": np.random.default_rng(0).uniform(-1, 1, (args.num, 28, 28, 1)),
    }
    print(f"{args.num} images per set, against the first {args.num} train images\n")
    print("| set | fid_fmnist | kid_fmnist | s |")
    print("| --- | --- | --- | --- |")
    for name, images in rows.items():
        _print_row(name, lambda: evaluate.image_metrics(config, images.astype(np.float32), _METRICS))
    for workdir in args.workdir:
        for ema in (True, False):
            G, g_vars, run_config = checkpoint.load_generator(workdir, None, ema=ema)
            run_config.eval.num_real = args.num
            _print_row(f"{workdir}, latest checkpoint, {'G-EMA' if ema else 'raw G'}",
                       lambda: evaluate.evaluate(run_config, G.apply, g_vars, _METRICS, args.num))


def _print_row(name, compute):
    t0 = time.perf_counter()
    r = compute()
    print(f"| {name} | {r['fid_fmnist']:.2f} | {r['kid_fmnist_mean']:.3f} ± "
          f"{r['kid_fmnist_std']:.3f} | {time.perf_counter() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main()
