"""Strided convolutions as matrix products over im2col, for few channels (image layers) on CPU:
the columns are k² × a few channels wide, so the products are cheap and no pass touches an
input-dilated array. Used by `jgan.cpu.conv` (its XLA formulations) and `jgan.cpu.onednn` (input
gradients with few channels, where oneDNN's kernels are slower)."""
import jax
import jax.numpy as jnp
from jax import lax

from jgan.cpu import primitives


def output_shape(x, kernel, strides, pads) -> list[int]:
    """The spatial output size of `lax.conv_transpose(x, kernel, strides, pads)`."""
    return [(n - 1) * s + 1 + lo + hi - k + 1
            for n, s, (lo, hi), k in zip(x.shape[1:3], strides, pads, kernel.shape[:2])]


def input_grad_pads(x_hw, g_hw, kernel_hw, strides, pads) -> tuple:
    """A strided convolution's input gradient is the transposed convolution of g with the kernel
    flipped (channel axes swapped): input x[i] collects g[o]·w[j] wherever o·s + j − lo = i, so
    that convolution is padded k − 1 − lo in front and to the input's length behind."""
    return tuple((k - 1 - lo, n + lo - 1 - (m - 1) * s)
                 for n, m, k, s, (lo, _) in zip(x_hw, g_hw, kernel_hw, strides, pads))


def im2col(x, kernel_hw, strides, pads):
    """[B, H, W, C] -> [B, out_h, out_w, k_h·k_w·C]: the (zero-padded) window each output reads."""
    outs = [(n + lo + hi - k) // s + 1
            for n, k, s, (lo, hi) in zip(x.shape[1:3], kernel_hw, strides, pads)]
    x = lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), *[
        (lo, (out - 1) * s + k - n - lo, 0)
        for n, k, s, (lo, _), out in zip(x.shape[1:3], kernel_hw, strides, pads, outs)], (0, 0, 0)])
    windows = [lax.slice(x, (0, j_h, j_w, 0), (x.shape[0], j_h + (outs[0] - 1) * strides[0] + 1,
                                                j_w + (outs[1] - 1) * strides[1] + 1, x.shape[3]),
                         (1, *strides, 1))
               for j_h in range(kernel_hw[0]) for j_w in range(kernel_hw[1])]
    return jnp.stack(windows, 3).reshape(x.shape[0], *outs, -1)


def conv(x, w, strides, pads):
    """`lax.conv_general_dilated(x, w, strides, pads)` as one matrix product of im2col(x)."""
    weights_OxK = w.transpose(3, 0, 1, 2).reshape(w.shape[3], -1)
    return im2col(x, w.shape[:2], strides, pads) @ weights_OxK.T


def kernel_grad(x, g, kernel_hw, strides, pads):
    """The kernel gradient of `conv(x, ·)` for the output gradient g: gᵀ · im2col(x)."""
    patches = im2col(x, kernel_hw, strides, pads)
    g_t = g.reshape(-1, g.shape[3]).T @ patches.reshape(-1, patches.shape[3])  # [O, k_h·k_w·C]
    return g_t.reshape(g.shape[3], *kernel_hw, x.shape[3]).transpose(1, 2, 3, 0)


def conv_transpose(x, kernel, strides, pads):
    """`lax.conv_transpose(x, kernel, strides, pads)` as one matrix product and col2im: input i
    adds x[i] · w[k−1−j'] to output i·s + j' − (k−1−lo), i.e. col2im is the transpose of im2col
    over the output (its windows, k taps at stride s padded k−1−lo in front, are the outputs each
    input feeds)."""
    (k_h, k_w), c_in = kernel.shape[:2], kernel.shape[2]
    outs = output_shape(x, kernel, strides, pads)
    weights = jnp.flip(kernel, (0, 1)).transpose(2, 0, 1, 3).reshape(c_in, -1)
    window_pads = [(k - 1 - lo, (n - 1) * s + 1 + lo - out)
                   for k, s, (lo, _), n, out in zip((k_h, k_w), strides, pads, x.shape[1:3], outs)]
    col2im = jax.linear_transpose(
        lambda y: im2col(y, (k_h, k_w), strides, window_pads),
        jax.ShapeDtypeStruct((x.shape[0], *outs, kernel.shape[3]), x.dtype))
    return col2im(x @ weights)[0]


def conv_input_grad(g, w, x_hw, strides, pads):
    """The input gradient of `lax.conv_general_dilated(x, w, strides, pads)` for the output
    gradient g, x of spatial size x_hw, by col2im."""
    t_pads = input_grad_pads(x_hw, g.shape[1:3], w.shape[:2], strides, pads)
    return conv_transpose(g, primitives.flip_kernel(w), strides, t_pads)
