"""The cost of the run's per-step finiteness flags (`jgan.run.finite.with_flags`), A/B in one process.

    python experiments/benchmarks/finite_overhead.py

The seed DCGAN's step at batch 64, jitted as `jgan train` jits it, with and without the flags,
alternated in 5 rounds of 5 steps; prints each round's ms/step and the ratio of the medians.
"""
import time, jax, numpy as np, jgan
from jgan.run.configs import seed_dcgan_fashion_mnist as c
from jgan.run import loop, finite
cfg = c.get_config(); cfg.batch_size = 64
state = loop.create_state_from_config(cfg)
batch = {"image": jax.random.uniform(jax.random.key(0), (64, 28, 28, 1), minval=-1, maxval=1)}
fns = {"plain": jgan.jit_step(loop.make_step_fn(cfg)), "with_flags": jgan.jit_step(finite.with_flags(loop.make_step_fn(cfg)))}
for f in fns.values(): jax.block_until_ready(f(state, batch))
times = {k: [] for k in fns}
for r in range(5):
    for k, f in fns.items():
        t = time.perf_counter()
        for _ in range(5): s, m = f(state, batch)
        jax.block_until_ready(m); times[k].append((time.perf_counter() - t) / 5 * 1e3)
for k, v in times.items(): print(k, "median ms/step %.1f" % np.median(v), [round(x, 1) for x in v])
print("ratio with_flags/plain %.3f" % (np.median(times["with_flags"]) / np.median(times["plain"])))
