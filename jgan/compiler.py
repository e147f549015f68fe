"""How jgan compiles its training step, per backend: the XLA compiler options and state donation.

XLA:CPU hands convolutions to the YNNPACK library by default. On the seed DCGAN's 5×5
convolutions its kernels made the whole step 1.4–1.9× slower here than XLA's own convolutions
(A/B in one process, batch 64 and 256), so on CPU YNNPACK keeps only the matrix products, where
it was the fastest choice.

LLVM optimisation level 1 instead of 3 cut the seed DCGAN step's compile time from 6.4–7.0 s to
4.5 s (one Threefry dropout mask the size of its D's first layer compiles in 1.2 s at level 3 and
0.2 s at level 1; dcgan, without dropout: 6.2–7.4 → 5.9–6.1 s), while the steps ran within ±2 %
of level 3's speed (A/B in one process, batch 64 and 256). GPUs and TPUs get no options: nothing
there was measured.

`donate_argnums`: a donated state makes XLA write the new state into the old one's buffers, and
its copy insertion cannot prove that every read of an old parameter or Adam first moment comes
before the in-place write (the optimizer's update fusion recomputes the new moment from the old
one), so it copies those first: 36 of `dcgan32`'s 96 state arrays, every step. Without donation
on CPU the step ran ×1.00–1.05 faster (×1.03–1.05 in this machine's slow periods, when memory
traffic costs most; seed DCGAN, `dcgan32`, `mlp2d`, A/B in one process), for one more copy of
the state in host memory during the step. Accelerators, where memory is scarce, keep donation.
"""
import functools

import jax

_CPU_OPTIONS = (("xla_cpu_experimental_ynn_fusion_type", "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"),
                ("xla_backend_optimization_level", 1))


def compiler_options(backend: str | None = None) -> dict:
    """Options for `jax.jit(..., compiler_options=...)` on `backend` (default: JAX's)."""
    return dict(_options(backend or jax.default_backend()))


def donate_argnums(backend: str | None = None) -> tuple:
    """`donate_argnums` for jitting the step `(state, batch)` on `backend`: the state, but not on
    CPU (see above)."""
    return () if (backend or jax.default_backend()) == "cpu" else (0,)


@functools.cache
def _options(backend: str) -> tuple:
    if backend != "cpu":
        return ()
    try:  # An XLA that does not know the option keeps its defaults rather than failing.
        jax.jit(lambda x: x + 1, compiler_options=dict(_CPU_OPTIONS)).lower(1.0).compile()
    except jax.errors.JaxRuntimeError:
        return ()
    return _CPU_OPTIONS
