"""How the run harness spreads the step over devices (`Engine`: jit + NamedSharding, or pmap) and
joins multi-process jobs (`initialize_distributed`)."""
import socket
import time
from typing import Optional

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jgan import backend
from jgan.parallel import check_divisible, replicate, shard_batch, unreplicate


class Engine:
    """How the training step is spread over devices, chosen by `config.parallel.mode`.

    "jit": one global program (`jax.jit`) over a 1-D `Mesh` of all devices; the batch is sharded
    along it (`NamedSharding`), the state replicated, and XLA inserts the collectives. "pmap": the
    classic per-device program with a named axis; the step averages over it with `lax.pmean`.
    Both work across hosts: each process feeds its own share of the global batch.
    """
    MODES = ("jit", "pmap")

    def __init__(self, mode: str, global_batch: int, n_critic: int = 1):
        if mode not in self.MODES:
            raise ValueError(f"unknown parallel mode {mode!r}; expected one of {list(self.MODES)}")
        check_divisible(global_batch, jax.device_count())
        self.mode = mode
        self.process_batch = global_batch // jax.process_count()
        self.batch_axis = 1 if n_critic > 1 else 0
        self.axis_name = "batch" if mode == "pmap" else None
        self.mesh = Mesh(np.array(jax.devices()), ("data",))
        self._replicated = NamedSharding(self.mesh, P())

    def compile(self, step_fn):
        if self.mode == "pmap":  # `jax.pmap` takes no compiler options: XLA's defaults.
            return jax.pmap(step_fn, axis_name=self.axis_name,
                            donate_argnums=backend.donate_argnums())
        return backend.jit_step(step_fn, out_shardings=self._replicated)

    def put_state(self, state):
        if self.mode == "pmap":
            return replicate(state, axis_name=self.axis_name)
        return jax.tree.map(lambda x: _global_replicated(x, self._replicated), state)

    def to_global(self, state):
        """The state as replicated global arrays over all devices: what checkpoints hold."""
        if self.mode == "pmap":
            return jax.tree.map(lambda x: _global_replicated(x, self._replicated), unreplicate(state))
        return state

    def from_global(self, state):
        """Inverse of `to_global`: the step's input placement."""
        return self.put_state(self.local_state(state)) if self.mode == "pmap" else state

    def local_state(self, state):
        """One copy on this process's first device: for sampling and reading on the host."""
        if self.mode == "pmap":
            return unreplicate(state)
        return jax.tree.map(lambda x: x.addressable_data(0), state)

    def put_batch(self, batch: dict):
        """This process's rows of the global batch -> the step's input."""
        if self.mode == "pmap":
            return shard_batch(batch, jax.local_device_count(), axis=self.batch_axis)
        spec = P(*([None] * self.batch_axis), "data")
        sharding = NamedSharding(self.mesh, spec)
        return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)


def _global_replicated(x, sharding):
    """A replicated global array from a value every process holds identically."""
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def initialize_distributed(coordinator_address: Optional[str] = None,
                           num_processes: Optional[int] = None, process_id: Optional[int] = None,
                           timeout_s: int = 120) -> None:
    """Joins a multi-process JAX job (one process per host).

    On TPU VMs every argument is detected automatically; elsewhere pass the coordinator's
    "host:port", the process count and this process's id. An unreachable coordinator fails after
    `timeout_s` seconds with an error naming its address.
    """
    if coordinator_address and process_id:  # Process 0 hosts the coordinator; others dial it.
        _wait_for_coordinator(coordinator_address, timeout_s)
    try:
        jax.distributed.initialize(coordinator_address, num_processes, process_id,
                                   initialization_timeout=timeout_s)
    except Exception as e:  # noqa: BLE001 — the runtime raises several types for the same failure.
        where = coordinator_address or "the auto-detected coordinator"
        raise RuntimeError(f"could not join the JAX job at {where} within {timeout_s}s "
                           f"(process {process_id} of {num_processes}): {str(e).splitlines()[0]}") from e


def _wait_for_coordinator(address: str, timeout_s: int) -> None:
    """Polls the coordinator's port; JAX's own client aborts the process instead of raising."""
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1.0).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not join the JAX job at {address} within {timeout_s}s: "
                                   f"nothing accepts connections there") from None
            time.sleep(0.25)
