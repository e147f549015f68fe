"""Transposed convolutions as one matrix product and col2im, for few output channels (image
layers) on CPU: the columns are k² × a few channels wide, so the products are cheap and no pass
touches an input-dilated array. Used by `jgan.layers` (its XLA path) and `jgan.onednn` (input
gradients with few channels, where oneDNN's kernels are slower)."""
import functools

import jax
import jax.numpy as jnp
from jax import lax


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


def _plan(x, kernel, strides, pads):
    """(output shape, x · W weights [C_in, k_h·k_w·C_out], im2col over the output: its windows,
    k taps at stride s padded k−1−lo in front, are the outputs each input feeds)."""
    (k_h, k_w), c_in = kernel.shape[:2], kernel.shape[2]
    outs = output_shape(x, kernel, strides, pads)
    weights = jnp.flip(kernel, (0, 1)).transpose(2, 0, 1, 3).reshape(c_in, -1)
    window_pads = [(k - 1 - lo, (n - 1) * s + 1 + lo - out)
                   for k, s, (lo, _), n, out in zip((k_h, k_w), strides, pads, x.shape[1:3], outs)]
    return outs, weights, functools.partial(im2col, kernel_hw=(k_h, k_w), strides=strides,
                                            pads=window_pads)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv_transpose(x, kernel, strides, pads):
    """The transposed convolution as one matrix product and col2im: input i adds x[i] · w[k−1−j']
    to output i·s + j' − (k−1−lo), i.e. col2im is the transpose of im2col over the output. Both
    gradients are matrix products of that im2col of g (one patch array for the two)."""
    outs, weights, im2col = _plan(x, kernel, strides, pads)
    col2im = jax.linear_transpose(
        im2col, jax.ShapeDtypeStruct((x.shape[0], *outs, kernel.shape[3]), x.dtype))
    return col2im(x @ weights)[0]


def _fwd(x, kernel, strides, pads):
    return conv_transpose(x, kernel, strides, pads), (x, kernel)


def _bwd(strides, pads, residuals, g):
    x, kernel = residuals
    _, weights, im2col = _plan(x, kernel, strides, pads)
    patches = im2col(g)  # [B, H_in, W_in, k_h·k_w·C_out]
    dx = patches @ weights.T
    d_weights = x.reshape(-1, x.shape[3]).T @ patches.reshape(-1, patches.shape[3])
    k_h, k_w, c_in, c_out = kernel.shape
    d_kernel = jnp.flip(d_weights.reshape(c_in, k_h, k_w, c_out).transpose(1, 2, 0, 3), (0, 1))
    return dx, d_kernel


conv_transpose.defvjp(_fwd, _bwd)
