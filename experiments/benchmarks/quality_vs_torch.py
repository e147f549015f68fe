"""Sample quality at equal wall-clock: the seed DCGAN trained by jgan and by its PyTorch twin.

    python experiments/benchmarks/quality_vs_torch.py [--minutes 10] [--samples 10000]

Each side trains in a child process of its own (sharing one, they would share one OpenMP
runtime), one after the other, for `--minutes` of wall-clock counted from its first step (jgan's
compilation included) and at least one step: jgan runs `seed_dcgan_fashion_mnist`'s step (its
model, loss, Adam, batch and G-EMA), PyTorch `torch_reference.seed_dcgan` with the same layers,
initialisation scheme, optimizer, loss and batch. Both read the same batches in the same order
(jgan's Fashion-MNIST iterator, same seed). Each child then draws `--samples` images from a fixed
seed (jgan: raw G and G-EMA); the parent scores every set with the same `fid_fmnist`,
`kid_fmnist` and precision / recall (`pr_fmnist`, k = 3) against the first `--samples` train
images, and prints a Markdown table. `--samples` also sets that real count.
"""
import argparse
import json
import math
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

_CONFIG = "seed_dcgan_fashion_mnist"
_METRICS = ["fid_fmnist", "kid_fmnist", "pr_fmnist"]
_SAMPLE_SEED = 123


def _config(data_dir):
    from jgan.run import configs  # noqa: PLC0415 — children import only their framework's needs.
    config = configs.load(_CONFIG, [])
    config.dataset.data_dir = data_dir
    return config


def _batches(config):
    """The training stream both sides read: jgan's Fashion-MNIST iterator, NHWC in [-1, 1]."""
    from jgan import data  # noqa: PLC0415
    data.ensure_prepared(config.dataset.name, config.dataset.data_dir)
    return data.make_iterator(config.dataset, batch_size=config.batch_size,
                              image_shape=tuple(config.model.image_shape), seed=config.seed)


def _train_for(seconds: float, step, batches) -> tuple[int, float]:
    """Runs `step(batch)` until `seconds` have passed (at least once); (steps, seconds taken).
    The clock starts once the data stream has its first batch, so each side times its own work."""
    batch = next(batches)["image"]
    t0, steps = time.perf_counter(), 0
    while steps == 0 or time.perf_counter() - t0 < seconds:
        step(batch)
        steps += 1
        batch = next(batches)["image"]
    return steps, time.perf_counter() - t0


def run_jgan(args) -> dict:
    import jax  # noqa: PLC0415
    jax.config.update("jax_cpu_enable_async_dispatch", False)  # As `jgan train` runs steps.
    import jgan  # noqa: PLC0415
    from jgan.run import loop  # noqa: PLC0415
    config = _config(args.data_dir)
    batches = _batches(config)
    box = [loop.create_state_from_config(config)]
    step_fn = jgan.jit_step(loop.make_step_fn(config))

    def step(images):
        box[0], metrics = step_fn(box[0], {"image": images})
        jax.block_until_ready(metrics)  # The clock sees finished steps only.

    steps, seconds = _train_for(args.minutes * 60, step, batches)
    key = jax.random.key(_SAMPLE_SEED)
    sets = {name: np.concatenate([np.asarray(jgan.sample(box[0], jax.random.fold_in(key, i),
                                                         num=500, ema=ema))
                                  for i in range(math.ceil(args.samples / 500))])[:args.samples]
            for name, ema in (("jgan raw G", False), ("jgan G-EMA", True))}
    return {"steps": steps, "seconds": seconds, "sets": sets}


def run_torch(args) -> dict:
    import torch  # noqa: PLC0415
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    from torch_reference import make_step, seed_dcgan  # noqa: PLC0415
    torch.manual_seed(0)
    G, D, z_dim, _ = seed_dcgan()
    torch_step = make_step(G, D, z_dim)
    batches = _batches(_config(args.data_dir))
    steps, seconds = _train_for(
        args.minutes * 60, lambda images: torch_step(torch.from_numpy(images).permute(0, 3, 1, 2)),
        batches)
    G.eval()  # BatchNorm's running statistics, as jgan samples in inference mode.
    torch.manual_seed(_SAMPLE_SEED)
    with torch.no_grad():
        images = torch.cat([G(torch.randn(500, z_dim)) for _ in range(math.ceil(args.samples / 500))])
    return {"steps": steps, "seconds": seconds,
            "sets": {"PyTorch raw G": images[:args.samples].permute(0, 2, 3, 1).numpy()}}


def score(args, results: dict) -> list[dict]:
    """One row per sample set: steps, steps/s and the metrics."""
    from jgan.metrics import evaluate  # noqa: PLC0415
    config = _config(args.data_dir)
    config.eval.num_real = args.samples
    rows = []
    for side in results:
        for name, images in side["sets"].items():
            m = evaluate.image_metrics(config, images.astype(np.float32), _METRICS)
            rows.append({"set": name, "steps": side["steps"],
                         "steps_per_s": side["steps"] / side["seconds"],
                         "fid_fmnist": m["fid_fmnist"], "kid_fmnist": m["kid_fmnist_mean"],
                         "kid_fmnist_std": m["kid_fmnist_std"],
                         "precision": m["pr_fmnist_precision"], "recall": m["pr_fmnist_recall"]})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| set | steps | steps/s | fid_fmnist | kid_fmnist | precision | recall |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['set']} | {r['steps']} | {r['steps_per_s']:.2f} | {r['fid_fmnist']:.2f} | "
              f"{r['kid_fmnist']:.4f} ± {r['kid_fmnist_std']:.4f} | {r['precision']:.3f} | "
              f"{r['recall']:.3f} |" for r in rows]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per side")
    parser.add_argument("--samples", type=int, default=10_000, help="generated and real images")
    parser.add_argument("--data_dir", help="TFDS data directory (default: TFDS's)")
    parser.add_argument("--json", help="also write the rows here")
    parser.add_argument("--side", choices=("jgan", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)  # A child's result file.
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.samples < 2:
        sys.exit(f"error: --minutes {args.minutes} must be > 0 and --samples {args.samples} >= 2")
    if args.side:  # A child: train one side, save its samples.
        result = (run_jgan if args.side == "jgan" else run_torch)(args)
        np.savez(args.out, steps=result["steps"], seconds=result["seconds"],
                 **{f"set/{k}": v for k, v in result["sets"].items()})
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for side in ("jgan", "torch"):
            out = pathlib.Path(tmp) / f"{side}.npz"
            forwarded = [f"--{k}={v}" for k, v in (("minutes", args.minutes),
                                                   ("samples", args.samples),
                                                   ("data_dir", args.data_dir)) if v is not None]
            subprocess.run([sys.executable, __file__, "--side", side, "--out", str(out),
                            *forwarded], check=True)
            with np.load(out) as f:
                results.append({"steps": int(f["steps"]), "seconds": float(f["seconds"]),
                                "sets": {k[4:]: f[k] for k in f.files if k.startswith("set/")}})
    rows = score(args, results)
    print(f"{args.minutes:g} min per side; {args.samples} samples and real images\n")
    print(table(rows))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
