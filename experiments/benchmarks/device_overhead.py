"""Cost of data parallelism over N CPU devices against one device, same global batch.

    python experiments/benchmarks/device_overhead.py [--devices 4] [--batch 64]

Each case runs in its own process (the CPU device count is fixed at start-up) on the seed DCGAN.
CPU "devices" share the same cores, so no speed-up is expected: the table shows the overhead
of splitting the batch and of the cross-device reductions.
"""
import argparse
import os
import subprocess
import sys

_CHILD = r"""
import sys, time, statistics, pathlib
import jax, numpy as np
from jgan.run.configs import seed_dcgan_fashion_mnist as c
from jgan.run import engine as engine_lib, loop
config = c.get_config(); config.batch_size = {batch}; config.parallel.mode = {mode!r}
engine = engine_lib.Engine(config.parallel.mode, config.batch_size)
step = engine.compile(loop.make_step_fn(config, engine.axis_name))
state = engine.put_state(loop.create_state_from_config(config, engine.axis_name))
batch = {{"image": np.random.default_rng(0).uniform(-1, 1, ({batch}, 28, 28, 1)).astype(np.float32)}}
for _ in range(3):
    state, m = step(state, engine.put_batch(batch)); jax.block_until_ready(m)
times = []
for _ in range({steps}):
    t = time.perf_counter(); state, m = step(state, engine.put_batch(batch)); jax.block_until_ready(m)
    times.append(time.perf_counter() - t)
print(statistics.median(times) * 1e3)
"""


def run(devices, mode, batch, steps):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    code = _CHILD.format(batch=batch, mode=mode, steps=steps)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    base = run(1, "jit", args.batch, args.steps)
    print(f"| devices | engine | ms/step (median) | vs 1 device |\n| --- | --- | --- | --- |\n"
          f"| 1 | jit | {base:.0f} | 1.00 |")
    for mode in ("jit", "pmap"):
        ms = run(args.devices, mode, args.batch, args.steps)
        print(f"| {args.devices} | {mode} | {ms:.0f} | {ms / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
