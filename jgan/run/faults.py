"""Failpoints: faults injected on purpose, as storage and database projects do, by
experiments/benchmarks/fault_soak.py and the tests. Inert unless JGAN_FAULT is set:

    JGAN_FAULT=kill:save:75:0.02   SIGKILL this process 0.02 s after the save of step 75 starts
    JGAN_FAULT=term:eval:100:0.01  SIGTERM 0.01 s after evaluation at step 100 starts
    JGAN_FAULT=nan:step:137:2      D's parameter tensor #2 becomes NaN after step 137

Points: "step" (after the step is dispatched), "save", "eval", "samples" (as each starts).
"""
import dataclasses
import functools
import os
import signal
import threading

import jax
import jax.numpy as jnp

ENV = "JGAN_FAULT"
_ACTIONS, _POINTS = ("kill", "term", "nan"), ("step", "save", "eval", "samples")


@dataclasses.dataclass(frozen=True)
class Fault:
    action: str
    point: str
    step: int
    arg: float


@functools.lru_cache(maxsize=4)
def parse(raw: str) -> Fault:
    parts = raw.split(":")
    if len(parts) != 4 or parts[0] not in _ACTIONS or parts[1] not in _POINTS:
        raise ValueError(f"{ENV}={raw!r}; expected ACTION:POINT:STEP:ARG with ACTION in "
                         f"{_ACTIONS} and POINT in {_POINTS}")
    return Fault(parts[0], parts[1], int(parts[2]), float(parts[3]))


def _armed(point: str, step: int):
    raw = os.environ.get(ENV)
    fault = parse(raw) if raw else None
    return fault if fault and (fault.point, fault.step) == (point, step) else None


def at(point: str, step: int) -> None:
    """Sends the armed signal `arg` seconds after the loop reaches `point` at `step`."""
    fault = _armed(point, step)
    if fault and fault.action in ("kill", "term"):
        sig = signal.SIGKILL if fault.action == "kill" else signal.SIGTERM
        timer = threading.Timer(fault.arg, os.kill, (os.getpid(), sig))
        timer.daemon = True
        timer.start()


def poison(state, step: int):
    """The state with D's parameter tensor #`arg` set to NaN, if so armed for this step."""
    fault = _armed("step", step)
    if not fault or fault.action != "nan":
        return state
    leaves, treedef = jax.tree_util.tree_flatten(state.d.params)
    index = int(fault.arg) % len(leaves)
    leaves[index] = leaves[index] * jnp.nan
    return state.replace(d=state.d.replace(params=jax.tree_util.tree_unflatten(treedef, leaves)))
