"""Layers that stay fast on XLA:CPU, with Flax's parameters and semantics: `Conv`,
`ConvTranspose` (below) and `Dropout` (at the end).

`impl` picks each convolution's path: "auto" (the default) takes, on CPU, oneDNN's convolutions
(`jgan.onednn`) where jgan's extension is built and the operands suit it, else the XLA
formulations below ("fast"); on GPU and TPU `lax`'s own ("reference"). "onednn" and "fast" force
a CPU path, "onednn" failing if the extension is absent. oneDNN runs the three passes of the
benchmark models' large layers 1.1–1.5× faster than the XLA formulations, each layer on its own
(`experiments/benchmarks/layer_profile.py`), and whole steps 1.1–1.3× faster; the formulations
remain for machines without the extension, and for operands oneDNN does not take (not float32,
or padding outside 0 … k − 1).

A strided transposed convolution is an input-dilated convolution. XLA:CPU computes its kernel
gradient on a slow path (measured on a 2-core Zen 4: 195 ms for the seed DCGAN's 128→64 layer at
batch 64, against 9 ms for the same sums as a strided convolution's kernel gradient). So on
CPU jgan takes for each pass a formulation XLA:CPU runs fast, each an exact rearrangement of the
same sums over the *undilated* input (output o ≡ p mod s uses the kernel taps j ≡ lo − p mod s):
- "sub-pixel" (`_subpixel`): s² stride-1 convolutions, one per phase, interleaved;
- "swapped" (`_transposed_kernel_grad`): the kernel gradient is, flipped, the kernel gradient of
  the strided convolution of g whose output gradient is x;
- "col2im" (`jgan.col2im.conv_transpose`): one matrix product x · W to every output tap, scattered
  back (col2im, the transpose of im2col); both gradients are then matrix products of im2col(g).
Layers with 16 or more output channels (`_transposed` chooses): forward sub-pixel, input gradient
`lax`'s own (an ordinary strided convolution), kernel gradient swapped. Layers with fewer output
channels (the image layer) are col2im in all three passes, the gradients sharing one im2col(g):
the columns are k² × a few channels wide, so the matrix products are cheap and no pass touches
an input-dilated array. The seed DCGAN's 64→1 layer at batch 256 went from 10.0 / 4.4 / 17.2 ms
(forward / input / kernel gradient) to 3.5 / 3.8 / 5.0 ms
(`experiments/benchmarks/layer_profile.py`). The swapped kernel gradient replaced one stride-1
convolution with s² × the output channels ("blocked", every phase's sub-kernel zero-padded to
the longest, then depth-to-space), which computed 1.4–1.6× the products: whole steps ×1.02–1.05.

GPUs and TPUs run dilated convolutions natively, so there `lax.conv_transpose` is used unchanged.
The parameters are the same on every path, so checkpoints move freely between backends. The CPU
paths are `jax.custom_vjp`s: reverse-mode differentiation (also of gradients, as R1 and WGAN-GP
need) works, forward mode (`jax.jvp`) not.

A strided convolution's input gradient is a transposed convolution (with the kernel flipped and
its channel axes swapped), so `Conv` computes that gradient with the same rule, by its number of
input channels: 2.5× faster for the seed DCGAN's 64→128 layer at batch 256 (144 → 58 ms); for its
1→64 layer col2im took 9.2 → 5.1 ms.
"""
import functools
import math
from typing import Any, Callable, Optional, Sequence, Union

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jgan import col2im, onednn

_DN = ("NHWC", "HWIO", "NHWC")
# Below this many output channels (the image layers) col2im beats the phase formulations; sub-pixel
# wins from 64 channels up.
_MIN_SUBPIXEL_FEATURES = 16
Padding = Union[str, Sequence[tuple[int, int]]]


IMPLS = ("auto", "onednn", "fast", "reference")


def use_fast(impl: str) -> bool:
    """Whether a layer's `impl` ("auto": by backend) takes one of jgan's CPU paths."""
    if impl not in IMPLS:
        raise ValueError(f"unknown layer impl {impl!r}; expected one of {', '.join(IMPLS)}")
    return impl in ("onednn", "fast") or (impl == "auto" and jax.default_backend() == "cpu")


def _use_onednn(impl: str, x, kernel, pads, transposed: bool = False) -> bool:
    """oneDNN for "onednn" and, on CPU, "auto" where it is built and supports the operands."""
    if impl == "onednn" and not onednn.available():
        raise RuntimeError("layer impl 'onednn' needs jgan's oneDNN extension, which is not built "
                           "or not loadable here; reinstall jgan on x86-64 Linux, or use 'auto'")
    return impl in ("onednn", "auto") and onednn.supports(x, kernel, pads, transposed)


def conv_transpose(x, kernel, strides: Sequence[int], padding: Padding, impl: str = "auto"):
    """`lax.conv_transpose(x, kernel, strides, padding, transpose_kernel=False)` for NHWC/HWIO."""
    strides = tuple(strides)
    if not use_fast(impl):
        return lax.conv_transpose(x, kernel, strides, padding, dimension_numbers=_DN)
    pads = _explicit(padding, lambda: [_conv_transpose_padding(k, s, padding)
                                       for k, s in zip(kernel.shape[:2], strides)])
    if _use_onednn(impl, x, kernel, pads, transposed=True):
        return onednn.conv_transpose(x, kernel, strides, pads)
    if strides == (1, 1):
        return lax.conv_transpose(x, kernel, strides, padding, dimension_numbers=_DN)
    return _transposed(kernel)(x, kernel, strides, pads)


def _explicit(padding: Padding, from_name: Callable) -> tuple:
    """Padding as hashable ((lo, hi), (lo, hi)) pairs; a name is resolved by `from_name()`."""
    return tuple(tuple(p) for p in (from_name() if isinstance(padding, str) else padding))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _fast_conv_transpose(x, kernel, strides, pads):
    return _subpixel(x, kernel, strides, pads)


def _fast_fwd(x, kernel, strides, pads):
    return _subpixel(x, kernel, strides, pads), (x, kernel)


def _fast_bwd(strides, pads, residuals, g):
    x, kernel = residuals
    x_t = jax.linear_transpose(lambda x: _dilated(x, kernel, strides, pads), x)
    return x_t(g)[0], _transposed_kernel_grad(x, g, kernel.shape, strides, pads)


def _transposed_kernel_grad(x, g, kernel_shape, strides, pads):
    """A transposed convolution's kernel gradient dW[j] = Σ x[i] · g[i·s − j + lo] is, with the
    kernel flipped (j' = k − 1 − j), the kernel gradient of the *strided* convolution of g
    (padded k − 1 − lo) whose output gradient is x; XLA:CPU runs that one fast."""
    g_pads = tuple((k - 1 - lo, (n - 1) * s + k - m - (k - 1 - lo))
                   for n, m, k, s, (lo, _) in zip(x.shape[1:3], g.shape[1:3], kernel_shape[:2],
                                                 strides, pads))
    k_h, k_w, c_in, c_out = kernel_shape
    d_flipped = _strided_kernel_grad(g, x, (k_h, k_w, c_out, c_in), strides, g_pads)
    return jnp.flip(d_flipped, (0, 1)).swapaxes(2, 3)


_fast_conv_transpose.defvjp(_fast_fwd, _fast_bwd)


def conv(x, kernel, strides: Sequence[int], padding: Padding, impl: str = "auto"):
    """`lax.conv_general_dilated(x, kernel, strides, padding)` for NHWC/HWIO."""
    strides = tuple(strides)
    if not use_fast(impl):
        return lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=_DN)
    pads = _explicit(padding, lambda: lax.padtype_to_pads(x.shape[1:3], kernel.shape[:2], strides,
                                                          padding))
    if _use_onednn(impl, x, kernel, pads):
        return onednn.conv(x, kernel, strides, pads)
    if strides == (1, 1):
        return lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=_DN)
    return _fast_conv(x, kernel, strides, pads)


def _strided(x, kernel, strides, pads):
    return lax.conv_general_dilated(x, kernel, strides, pads, dimension_numbers=_DN)


def _strided_kernel_grad(x, g, kernel_shape, strides, pads):
    """The kernel gradient of `_strided(x, ·)` for the output gradient g (`lax`'s)."""
    kernel = jax.ShapeDtypeStruct(kernel_shape, x.dtype)
    return jax.linear_transpose(lambda k: _strided(x, k, strides, pads), kernel)(g)[0]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _fast_conv(x, kernel, strides, pads):
    return _strided(x, kernel, strides, pads)


def _fast_conv_fwd(x, kernel, strides, pads):
    return _strided(x, kernel, strides, pads), (x, kernel)


def _fast_conv_bwd(strides, pads, residuals, g):
    """The input gradient as a transposed convolution of g (`col2im.input_grad_pads`)."""
    x, kernel = residuals
    t_pads = col2im.input_grad_pads(x.shape[1:3], g.shape[1:3], kernel.shape[:2], strides, pads)
    flipped = jnp.flip(kernel, (0, 1)).swapaxes(2, 3)
    dx = _transposed(flipped)(g, flipped, strides, t_pads)
    return dx, _strided_kernel_grad(x, g, kernel.shape, strides, pads)


_fast_conv.defvjp(_fast_conv_fwd, _fast_conv_bwd)


def _conv_transpose_padding(k: int, s: int, padding: str) -> tuple[int, int]:
    """The explicit padding `lax.conv_transpose` uses for 'SAME' / 'VALID' (same rule as JAX)."""
    if padding == "SAME":
        pad_len = k + s - 2
        pad_a = k - 1 if s > k - 1 else int(math.ceil(pad_len / 2))
    elif padding == "VALID":
        pad_len = k + s - 2 + max(k - s, 0)
        pad_a = k - 1
    else:
        raise ValueError(f"padding {padding!r} is not supported; expected 'SAME', 'VALID' or pairs")
    return pad_a, pad_len - pad_a


def _transposed(kernel) -> Callable:
    """The CPU transposed convolution for `kernel`: col2im for few output channels, else the
    custom VJP (sub-pixel forward, lax input gradient, swapped kernel gradient)."""
    few = kernel.shape[3] < _MIN_SUBPIXEL_FEATURES
    return col2im.conv_transpose if few else _fast_conv_transpose


def _dilated(x, kernel, strides, pads):
    return lax.conv_transpose(x, kernel, strides, pads, dimension_numbers=_DN)


def _phase_taps(k: int, s: int, lo: int) -> list[tuple[int, int, int]]:
    """(j0, c, taps) per output phase p: outputs o = q·s + p of the input-dilated convolution sum
    x[q + c + m] · w[j0 + m·s] over m < taps, with j0 = (lo − p) mod s and c = (p + j0 − lo) / s:
    a plain correlation of x with the sub-kernel w[j0::s]."""
    phases = []
    for p in range(s):
        j0 = (lo - p) % s
        phases.append((j0, (p + j0 - lo) // s, len(range(j0, k, s))))
    return phases


def _subpixel(x, kernel, strides, pads):
    """The transposed convolution as s² stride-1 phase convolutions, interleaved."""
    out_h, out_w = col2im.output_shape(x, kernel, strides, pads)
    phases = jnp.stack([
        jnp.stack([_phase(x, kernel, (p_h, p_w), strides, pads, (out_h, out_w))
                   for p_w in range(strides[1])], axis=3)
        for p_h in range(strides[0])], axis=3)  # [B, ceil(out_h/s_h), ceil(out_w/s_w), s_h, s_w, C]
    return _depth_to_space(phases)[:, :out_h, :out_w]


def _depth_to_space(y):
    """[B, Q_h, Q_w, s_h, s_w, C] -> [B, Q_h·s_h, Q_w·s_w, C]: output q·s + p from block q, slot p."""
    b, q_h, q_w, s_h, s_w, c = y.shape
    return y.transpose(0, 1, 3, 2, 4, 5).reshape(b, q_h * s_h, q_w * s_w, c)


def _phase(x, kernel, phase, strides, pads, out_shape):
    """Outputs o ≡ phase (mod stride) of the input-dilated convolution, as a stride-1 one."""
    slices, x_pads, lengths = [], [], []
    for p, s, (lo, _), k, n, out in zip(phase, strides, pads, kernel.shape[:2], x.shape[1:3],
                                        out_shape):
        j0, c, taps = _phase_taps(k, s, lo)[p]
        length = -(-out // s)  # Every phase is computed ceil(out / s) long, then cropped.
        slices.append(slice(j0, k, s))
        x_pads.append((-c, length + taps - 1 - n + c, 0))
        lengths.append((length, taps))
    if any(taps == 0 for _, taps in lengths):  # No kernel tap lands on this phase.
        return jnp.zeros((x.shape[0], lengths[0][0], lengths[1][0], kernel.shape[-1]), x.dtype)
    sub_kernel = kernel[slices[0], slices[1]]
    x_padded = lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), *x_pads, (0, 0, 0)])
    return lax.conv_general_dilated(x_padded, sub_kernel, (1, 1), "VALID", dimension_numbers=_DN)


class _ConvModule(nn.Module):
    """Flax's 2-D NHWC convolution parameters (`kernel` [kh, kw, in, features], `bias`)
    applied by `_op`; the class name keeps Flax's parameter paths (Conv_0, ConvTranspose_0)."""
    features: int
    kernel_size: Sequence[int]
    strides: Sequence[int] = (1, 1)
    padding: Padding = "SAME"
    use_bias: bool = True
    kernel_init: Callable[..., Any] = nn.initializers.lecun_normal()
    bias_init: Callable[..., Any] = nn.initializers.zeros_init()
    impl: str = "auto"
    _op = None

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", self.kernel_init,
                            (*self.kernel_size, x.shape[-1], self.features), jnp.float32)
        y = type(self)._op(x, kernel.astype(x.dtype), self.strides, self.padding, self.impl)
        if self.use_bias:
            y += self.param("bias", self.bias_init, (self.features,), jnp.float32).astype(x.dtype)
        return y


class Conv(_ConvModule):
    """`flax.linen.Conv` (2-D, NHWC) with a fast CPU input gradient."""
    _op = conv


class ConvTranspose(_ConvModule):
    """`flax.linen.ConvTranspose` (2-D, NHWC, transpose_kernel=False) with a fast CPU path."""
    _op = conv_transpose


class Dropout(nn.Module):
    """`flax.linen.Dropout` (same fields, same `dropout` RNG stream) with a cheaper mask.

    Flax draws one Threefry hash per element, and on CPU JAX runs Threefry as a rolled loop of
    array passes. Here each hash (unrolled, so the mask is one fused kernel) gives four 16-bit
    draws. With Flax's masks the seed DCGAN's six per step took 8–9 % of its CPU step; with these
    the step ran 4–5 % faster (A/B in one process, batch 64 and 256). The keep probability
    is rounded to a multiple of 2⁻¹⁶ (off by < 8e-6) and kept values are scaled by its inverse,
    so E[output] = x exactly. Masks are the same on every backend.
    """
    rate: float
    broadcast_dims: Sequence[int] = ()
    deterministic: Optional[bool] = None
    rng_collection: str = "dropout"

    @nn.compact
    def __call__(self, x, deterministic: Optional[bool] = None):
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"dropout rate {self.rate!r}; expected a number in [0, 1]")
        if nn.merge_param("deterministic", self.deterministic, deterministic) or self.rate == 0.0:
            return x
        threshold = round((1.0 - self.rate) * 2 ** 16)
        if threshold == 0:
            return jnp.zeros_like(x)
        shape = [1 if i in self.broadcast_dims else n for i, n in enumerate(x.shape)]
        draws = _uniform16(self.make_rng(self.rng_collection), shape)
        keep = jnp.broadcast_to(draws < threshold, x.shape)
        return jnp.where(keep, x * (2 ** 16 / threshold), jnp.zeros((), x.dtype))


def _uniform16(key, shape) -> jax.Array:
    """uint32 values uniform in [0, 2¹⁶), four per Threefry-2x32 hash of a counter."""
    n = math.prod(shape)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        data = jax.random.key_data(key)
        key = data if data.shape == (2,) else jax.random.bits(key, (2,), jnp.uint32)
    count = lax.iota(jnp.uint32, -(-n // 4))
    words = jnp.stack(threefry2x32(key[0], key[1], count, jnp.zeros_like(count)), -1)
    halves = jnp.stack([words & 0xFFFF, words >> 16], -1)
    return halves.reshape(-1)[:n].reshape(shape)


def threefry2x32(k0, k1, x0, x1):
    """The Threefry-2x32 hash (20 rounds; `jax.extend.random.threefry_2x32`'s), unrolled.

    JAX lowers its own as a rolled loop on CPU, one pass over the arrays per 4 rounds; unrolled,
    the rounds fuse into the kernel that uses the bits.
    """
    ks = (k0, k1, k0 ^ k1 ^ np.uint32(0x1BD11BDA))
    rotations = ((13, 15, 26, 6), (17, 29, 16, 24))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for i in range(5):
        for r in rotations[i % 2]:
            x0 = x0 + x1
            x1 = x0 ^ ((x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r)))
        x0, x1 = x0 + ks[(i + 1) % 3], x1 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x0, x1
