"""Mixed precision: a `precision` name -> the computation dtype of jgan's layers and models.

"float32" computes everything in float32. "bfloat16" runs activations and convolutions in
bfloat16 while parameters, optimizer state, BatchNorm statistics (and their means and variances),
spectral norm's vectors, losses and penalties stay float32: Flax linen's convention, `dtype` (the
computation dtype) = bfloat16 and `param_dtype` = float32. Models cast their inputs to `dtype` and
return float32 (G's images, D's logits), so the step around them is unchanged.
"""
import jax
import jax.numpy as jnp

PRECISIONS = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def dtype(precision: str):
    """The computation dtype of `precision` ("float32" | "bfloat16")."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of "
                         f"{', '.join(map(repr, PRECISIONS))}")
    return PRECISIONS[precision]


def check(precision: str, impl: str = "auto") -> None:
    """Fails in one line where `precision` is unknown, or where the layers' convolution path
    `impl` cannot compute in it here (oneDNN's bfloat16 needs AVX-512 BF16)."""
    from jgan.nn import convolution  # noqa: PLC0415 — convolution imports nothing from here.
    computation = dtype(precision)
    path = convolution.resolve(impl)
    if computation == jnp.bfloat16 and path == "onednn" and jax.default_backend() == "cpu":
        from jgan.cpu import onednn  # noqa: PLC0415 — CPU-only code.
        onednn.check_bf16()
