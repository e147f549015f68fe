"""Checkpoint save and restore times for a config's full state (default: the seed DCGAN).

    python experiments/benchmarks/checkpoint_time.py [--config jgan/run/configs/seed_dcgan_fashion_mnist.py]

Prints the blocking part of an asynchronous save (what the training loop waits for), the time
until the save is committed, a full restore (`Checkpointer.restore_latest`) and a generator-only
restore (`load_generator`), medians of --repeats runs.
"""
import argparse
import runpy
import statistics
import tempfile
import time


import jax  # noqa: E402

from jgan.run import checkpoint, loop  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="jgan/run/configs/seed_dcgan_fashion_mnist.py")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    config = runpy.run_path(args.config)["get_config"]()
    state = loop.create_state_from_config(config)
    size_mb = sum(x.nbytes for x in jax.tree.leaves(state)) / 2**20
    rows = {"save (blocking part)": [], "save (until committed)": [], "restore (full state)": [],
            "restore (generator only)": []}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as workdir:
            ckpt = checkpoint.Checkpointer(workdir, config)
            t0 = time.perf_counter()
            ckpt.save(1, state, {"step": 1}, force=True)
            rows["save (blocking part)"].append(time.perf_counter() - t0)
            ckpt.wait()
            rows["save (until committed)"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            restored, _ = ckpt.restore_latest(state)
            jax.block_until_ready(restored)
            rows["restore (full state)"].append(time.perf_counter() - t0)
            ckpt.close()
            t0 = time.perf_counter()
            checkpoint.load_generator(workdir)
            rows["restore (generator only)"].append(time.perf_counter() - t0)
    print(f"{args.config}: state {size_mb:.1f} MiB\n\n| operation | median ms |\n| --- | --- |")
    for name, seconds in rows.items():
        print(f"| {name} | {statistics.median(seconds) * 1e3:.0f} |")


if __name__ == "__main__":
    main()
