"""jgan's XLA formulations of convolutions for XLA:CPU, and the CPU dispatch of `jgan.nn`.

A strided transposed convolution is an input-dilated convolution, whose passes XLA:CPU runs on a
slow path; every pass here is an exact rearrangement of the same sums over the *undilated* input.
A strided convolution and its transpose are the three passes of one strided convolution
(`jgan.cpu.primitives`), computed as:
- forward: `lax`'s strided convolution;
- input gradient (a transposed convolution's forward): "sub-pixel" (`_subpixel`), s² stride-1
  convolutions, one per output phase, interleaved; below 16 channels "col2im"
  (`jgan.cpu.col2im`), one matrix product scattered to every output tap;
- kernel gradient: `lax`'s, i.e. for a transposed convolution the kernel gradient of the strided
  convolution of g whose output gradient is x ("swapped"), which XLA:CPU runs fast.
A transposed layer with fewer than 16 output channels (the image layer) runs all three as matrix
products over im2col / col2im. Stride 1 stays `lax`'s. Per-layer and per-pass:
`python experiments/benchmarks/layer_profile.py --impl xla_cpu` (docs/cpu_performance.md).
"""
import jax
import jax.numpy as jnp
from jax import lax

from jgan.cpu import col2im, onednn, primitives

_DN = ("NHWC", "HWIO", "NHWC")
# Below this many channels (the image layers) col2im beats the phase formulations.
_MIN_SUBPIXEL_FEATURES = 16


def _use_onednn(path: str, x, kernel, pads, transposed: bool = False) -> bool:
    """oneDNN for "onednn" and for "auto" where it is installed and takes the operands."""
    if path not in ("auto", "xla_cpu", "onednn"):
        raise ValueError(f"unknown CPU path {path!r}; expected 'auto', 'xla_cpu' or 'onednn'")
    if path == "onednn" and not onednn.available():
        raise RuntimeError(f"layer impl 'onednn' needs the jgan-onednn extension, but "
                           f"{onednn.unavailable_reason()}; or use 'auto'")
    if path == "onednn" and x.dtype == jnp.bfloat16:
        onednn.check_bf16()
    return path in ("onednn", "auto") and onednn.supports(x, kernel, pads, transposed)


def conv(x, kernel, strides: tuple, pads: tuple, path: str):
    """`lax.conv_general_dilated(x, kernel, strides, pads)` on the CPU path `path`."""
    if _use_onednn(path, x, kernel, pads):
        return onednn.conv(x, kernel, strides, pads)
    geo = primitives.geometry(strides, pads, x.shape[1:3], kernel.shape[:2])
    if strides == (1, 1):  # lax's passes.
        return _strided(x, kernel, geo)
    return primitives.conv(x, kernel, geo, XLA)


def conv_transpose(x, kernel, strides: tuple, pads: tuple, path: str):
    """`lax.conv_transpose(x, kernel, strides, pads)` on the CPU path `path`."""
    if _use_onednn(path, x, kernel, pads, transposed=True):
        return onednn.conv_transpose(x, kernel, strides, pads)
    if strides == (1, 1):  # lax's passes.
        return lax.conv_transpose(x, kernel, strides, pads, dimension_numbers=_DN)
    few = kernel.shape[3] < _MIN_SUBPIXEL_FEATURES
    return primitives.conv_transpose(x, kernel, strides, pads, IMAGE_LAYER if few else XLA)


def _strided(x, w, geo):
    return lax.conv_general_dilated(x, w, geo.strides, geo.pads, dimension_numbers=_DN)


def _input_grad(g, w, geo):
    """The input gradient as a transposed convolution of g: col2im or sub-pixel."""
    if w.shape[2] < _MIN_SUBPIXEL_FEATURES:
        return col2im.conv_input_grad(g, w, geo.x_hw, geo.strides, geo.pads)
    pads = col2im.input_grad_pads(geo.x_hw, g.shape[1:3], geo.k_hw, geo.strides, geo.pads)
    return _subpixel(g, primitives.flip_kernel(w), geo.strides, pads)


def _kernel_grad(x, g, geo):
    """`lax`'s kernel gradient of the strided convolution."""
    kernel = jax.ShapeDtypeStruct((*geo.k_hw, x.shape[3], g.shape[3]), x.dtype)
    return jax.linear_transpose(lambda w: _strided(x, w, geo), kernel)(g)[0]


XLA = primitives.Formulation("xla_cpu", _strided, _input_grad, _kernel_grad)
IMAGE_LAYER = primitives.Formulation(
    "xla_cpu_im2col", lambda x, w, geo: col2im.conv(x, w, geo.strides, geo.pads), _input_grad,
    lambda x, g, geo: col2im.kernel_grad(x, g, geo.k_hw, geo.strides, geo.pads))


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
