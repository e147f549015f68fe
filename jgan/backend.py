"""How to compile the step on the backend at hand: `jit_step`, and the options it applies.

On CPU it applies `jgan.cpu`'s compiler options and process settings and donates nothing; on GPU
and TPU it donates the state and sets no options (nothing there was measured). jgan.cpu is
imported only on CPU.
"""
from typing import Callable, Optional

import jax


def _on_cpu(backend: Optional[str]) -> bool:
    return (backend or jax.default_backend()) == "cpu"


def compiler_options(backend: Optional[str] = None) -> dict:
    """Options for `jax.jit(..., compiler_options=...)` on `backend` (default: JAX's)."""
    if not _on_cpu(backend):
        return {}
    from jgan.cpu import options  # noqa: PLC0415 — CPU-only code.
    return options.compiler_options()


def donate_argnums(backend: Optional[str] = None) -> tuple:
    """The step's `donate_argnums`: the state, except on CPU, where XLA copies a donated state's
    parameters and moments before updating them in place (docs/cpu_performance.md)."""
    return () if _on_cpu(backend) else (0,)


def jit_step(step_fn: Callable, **jit_kwargs) -> Callable:
    """`jax.jit(step_fn)` for `(state, batch) -> (state, metrics)` with this backend's options and
    donation (and, on CPU, `jgan.cpu.configure()`); `jit_kwargs` go to `jax.jit`."""
    if _on_cpu(None):
        from jgan import cpu  # noqa: PLC0415
        cpu.configure()
    jit_kwargs.setdefault("donate_argnums", donate_argnums())
    jit_kwargs.setdefault("compiler_options", compiler_options())
    return jax.jit(step_fn, **jit_kwargs)
