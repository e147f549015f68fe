"""XLA:CPU compiler options for the training step.

- YNNPACK keeps only the matrix products: its convolution kernels made the seed DCGAN's step
  several times slower than XLA's own convolutions;
- LLVM optimisation level 1 instead of 3: compiles markedly faster, steps run at the same speed.
Both measured A/B in one process (`python experiments/benchmarks/compile_profile.py`,
`python experiments/benchmarks/step_speed.py`; docs/cpu_performance.md).
"""
import functools

import jax

_CPU_OPTIONS = (("xla_cpu_experimental_ynn_fusion_type", "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"),
                ("xla_backend_optimization_level", 1))


def compiler_options() -> dict:
    """Options for `jax.jit(..., compiler_options=...)` on XLA:CPU."""
    return dict(_supported())


@functools.cache
def _supported() -> tuple:
    try:  # An XLA that does not know the options keeps its defaults rather than failing.
        jax.jit(lambda x: x + 1, compiler_options=dict(_CPU_OPTIONS)).lower(1.0).compile()
    except jax.errors.JaxRuntimeError:
        return ()
    return _CPU_OPTIONS
