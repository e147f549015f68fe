"""`Conv` and `ConvTranspose`: Flax's 2-D NHWC layers (same parameters, names and fields) whose
convolutions take the fastest path of the backend they run on.

`impl` names the path:
- "auto" (default): `lax` on GPU and TPU; on CPU, oneDNN where its extension is installed and
  takes the operands, else jgan's XLA:CPU formulations (`jgan.cpu`);
- "lax": `lax.conv_general_dilated` / `lax.conv_transpose`, as `flax.linen` runs them;
- "xla_cpu": jgan's XLA formulations for CPU, which XLA:CPU runs faster than lax's gradients;
- "onednn": oneDNN's convolutions through XLA's FFI (CPU only; needs `jgan-onednn`).

Every path computes the same function with the same parameters, so checkpoints move between
paths and backends, and every path supports reverse and forward-mode differentiation, `vmap` and
batch sharding. As in Flax, `dtype` is the computation dtype (bfloat16 for mixed precision,
`jgan.nn.precision`; None: the input's) and `param_dtype` the parameters'; float32 and bfloat16
run on every path (oneDNN's bfloat16 where the processor has AVX-512 BF16).
"""
from typing import Any, Callable, Optional, Sequence, Union

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

IMPLS = ("auto", "lax", "xla_cpu", "onednn")
_RENAMED = {"fast": "xla_cpu", "reference": "lax"}  # Names before jgan's restructuring.
_DN = ("NHWC", "HWIO", "NHWC")
Padding = Union[str, Sequence[tuple[int, int]]]


def resolve(impl: str) -> str:
    """The path `impl` takes here: "lax", or one of jgan.cpu's ("auto" stays "auto" on CPU, where
    it is decided per operand)."""
    if impl not in IMPLS:
        hint = f" (renamed {_RENAMED[impl]!r})" if impl in _RENAMED else ""
        raise ValueError(f"unknown layer impl {impl!r}{hint}; expected one of {', '.join(IMPLS)}")
    if impl == "auto" and jax.default_backend() != "cpu":
        return "lax"
    return impl


def conv(x, kernel, strides: Sequence[int], padding: Padding, impl: str = "auto"):
    """`lax.conv_general_dilated(x, kernel, strides, padding)` for NHWC / HWIO."""
    strides, path = tuple(strides), resolve(impl)
    if path == "lax":
        return lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=_DN)
    from jgan import cpu  # noqa: PLC0415 — CPU-only code, imported on first use.
    pads = _explicit(padding, lambda: lax.padtype_to_pads(x.shape[1:3], kernel.shape[:2], strides,
                                                          padding))
    return cpu.conv(x, kernel, strides, pads, path)


def conv_transpose(x, kernel, strides: Sequence[int], padding: Padding, impl: str = "auto"):
    """`lax.conv_transpose(x, kernel, strides, padding, transpose_kernel=False)` for NHWC / HWIO."""
    strides, path = tuple(strides), resolve(impl)
    if path == "lax":
        return lax.conv_transpose(x, kernel, strides, padding, dimension_numbers=_DN)
    from jgan import cpu  # noqa: PLC0415
    pads = _explicit(padding, lambda: [conv_transpose_padding(k, s, padding)
                                       for k, s in zip(kernel.shape[:2], strides)])
    return cpu.conv_transpose(x, kernel, strides, pads, path)


def _explicit(padding: Padding, from_name: Callable) -> tuple:
    """Padding as hashable ((lo, hi), (lo, hi)) pairs; a name is resolved by `from_name()`."""
    return tuple(tuple(int(v) for v in p) for p in (from_name() if isinstance(padding, str)
                                                   else padding))


def conv_transpose_padding(k: int, s: int, padding: str) -> tuple[int, int]:
    """The explicit padding `lax.conv_transpose` uses for 'SAME' / 'VALID' (JAX's rule)."""
    if padding == "SAME":
        pad_len = k + s - 2
        pad_a = k - 1 if s > k - 1 else -(-pad_len // 2)
    elif padding == "VALID":
        pad_len = k + s - 2 + max(k - s, 0)
        pad_a = k - 1
    else:
        raise ValueError(f"padding {padding!r} is not supported; expected 'SAME', 'VALID' or pairs")
    return pad_a, pad_len - pad_a


class _ConvModule(nn.Module):
    """Flax's 2-D NHWC convolution parameters (`kernel` [kh, kw, in, features], `bias`)
    applied by `_op` in `dtype`; the class name keeps Flax's parameter paths (Conv_0,
    ConvTranspose_0)."""
    features: int
    kernel_size: Sequence[int]
    strides: Sequence[int] = (1, 1)
    padding: Padding = "SAME"
    use_bias: bool = True
    kernel_init: Callable[..., Any] = nn.initializers.lecun_normal()
    bias_init: Callable[..., Any] = nn.initializers.zeros_init()
    impl: str = "auto"
    dtype: Optional[Any] = None  # The computation dtype; None: the input's.
    param_dtype: Any = jnp.float32
    _op = None

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", self.kernel_init,
                            (*self.kernel_size, x.shape[-1], self.features), self.param_dtype)
        dtype = x.dtype if self.dtype is None else self.dtype
        y = type(self)._op(x.astype(dtype), kernel.astype(dtype), self.strides, self.padding,
                           self.impl)
        if self.use_bias:
            bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype)
            y += bias.astype(dtype)
        return y


class Conv(_ConvModule):
    """`flax.linen.Conv` (2-D, NHWC)."""
    _op = conv


class ConvTranspose(_ConvModule):
    """`flax.linen.ConvTranspose` (2-D, NHWC, transpose_kernel=False)."""
    _op = conv_transpose
