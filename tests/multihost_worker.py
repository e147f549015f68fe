"""One process of a multi-process jgan run on CPU devices (driven by tests/test_run_multihost.py).

    python tests/multihost_worker.py PROCESS_ID NUM_PROCESSES PORT DEVICES_PER_PROCESS MODE WORKDIR OUT.npz
"""
import os
import sys

process_id, num_processes, port, num_devices = map(int, sys.argv[1:5])
mode, workdir, out = sys.argv[5:8]
# The suite's XLA flags, but this process's own device count.
os.environ["XLA_FLAGS"] = " ".join(
    [f for f in os.environ.get("XLA_FLAGS", "").split() if "device_count" not in f]
    + [f"--xla_force_host_platform_device_count={num_devices}"])

import jax  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_cpu_collectives_implementation", "gloo")

from jgan.run.configs import ring2d  # noqa: E402
from jgan.run import engine, loop  # noqa: E402

if num_processes > 1:
    engine.initialize_distributed(f"127.0.0.1:{port}", num_processes, process_id, timeout_s=60)
config = ring2d.get_config("tiny")
config.update(dict(num_steps=3, checkpoint_every=3, sample_every=3, log_every=1))
config.parallel.mode = mode
for player in ("g", "d"):  # See tests/test_run_loop.py: SGD keeps rounding differences linear.
    config.optimizer[player] = dict(name="sgd", learning_rate=0.01)
state = loop.train_and_evaluate(config, workdir)
if jax.process_index() == 0:
    np.savez(out, *[np.asarray(x) for x in jax.tree.leaves(state)])
print(f"process {jax.process_index()} of {jax.process_count()} with {jax.device_count()} devices: done")
