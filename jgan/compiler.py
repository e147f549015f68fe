"""The XLA compiler options jgan compiles its training step with, chosen per backend.

XLA:CPU hands convolutions to the YNNPACK library by default. On the seed DCGAN's 5×5
convolutions its kernels made the whole step 1.4–1.9× slower here than XLA's own convolutions
(A/B in one process, batch 64 and 256), so on CPU YNNPACK keeps only the matrix products, where
it was the fastest choice. GPUs and TPUs get no options: nothing there was measured.
"""
import functools

import jax

_CPU_OPTIONS = (("xla_cpu_experimental_ynn_fusion_type", "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"),)


def compiler_options(backend: str | None = None) -> dict:
    """Options for `jax.jit(..., compiler_options=...)` on `backend` (default: JAX's)."""
    return dict(_options(backend or jax.default_backend()))


@functools.cache
def _options(backend: str) -> tuple:
    if backend != "cpu":
        return ()
    try:  # An XLA that does not know the option keeps its defaults rather than failing.
        jax.jit(lambda x: x + 1, compiler_options=dict(_CPU_OPTIONS)).lower(1.0).compile()
    except jax.errors.JaxRuntimeError:
        return ()
    return _CPU_OPTIONS
