"""A strided convolution's three passes as JAX primitives, so every transformation reaches jgan's
CPU formulations.

y = conv(x, w) is bilinear, and so are its two gradients; with strides and padding fixed:
- `fwd(x, w)` -> y;
- `bwd_data(g, w)` -> x-shaped: the input gradient, and every transposed convolution's forward
  (with the kernel flipped and its channel axes swapped);
- `bwd_weights(x, g)` -> w-shaped: the kernel gradient;
with <fwd(x, w), g> = <x, bwd_data(g, w)> = <w, bwd_weights(x, g)>. Each is a primitive whose JVP
is bilinear (P(dx, w) + P(x, dw)) and whose transposes are the other two, so reverse mode, forward
mode and their compositions all run the three passes of one `Formulation` (jgan's XLA
formulations or oneDNN's calls), which a primitive's lowering inlines. `vmap` folds batched
activations into the batch and maps over batched kernels.
"""
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.core import ShapedArray
from jax._src import dispatch  # Private: as jax's own cuDNN bindings use it.
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir


class Geometry(NamedTuple):
    """The static part of y = conv(x, w): strides, explicit pads ((lo, hi), (lo, hi)), and the
    spatial sizes of x and w (batch and channels come from the operands)."""
    strides: tuple
    pads: tuple
    x_hw: tuple
    k_hw: tuple

    def y_hw(self) -> tuple:
        return tuple((n + lo + hi - k) // s + 1 for n, k, s, (lo, hi)
                     in zip(self.x_hw, self.k_hw, self.strides, self.pads))


def geometry(strides, pads, x_hw, k_hw) -> Geometry:
    """A `Geometry` of plain ints (hashable: it is a primitive parameter)."""
    ints = lambda v: tuple(int(i) for i in v)
    return Geometry(ints(strides), tuple(ints(p) for p in pads), ints(x_hw), ints(k_hw))


class Formulation(NamedTuple):
    """How one path computes the passes: fwd(x, w, geo), bwd_data(g, w, geo), bwd_weights(x, g,
    geo), on unbatched NHWC / HWIO arrays."""
    name: str
    fwd: Callable
    bwd_data: Callable
    bwd_weights: Callable

    def __repr__(self) -> str:  # How jaxprs print it.
        return self.name


fwd_p = Primitive("cpu_conv_fwd")
bwd_data_p = Primitive("cpu_conv_bwd_data")
bwd_weights_p = Primitive("cpu_conv_bwd_weights")


def conv(x, w, geo: Geometry, formulation: Formulation):
    """y = conv(x, w) for x [N, *geo.x_hw, C], w [*geo.k_hw, C, O]."""
    return fwd_p.bind(x, w, geo=geo, formulation=formulation)


def conv_input_grad(g, w, geo: Geometry, formulation: Formulation):
    """The input gradient of `conv(·, w)` for the output gradient g: a transposed convolution."""
    return bwd_data_p.bind(g, w, geo=geo, formulation=formulation)


def conv_transpose(x, kernel, strides: tuple, pads: tuple, formulation: Formulation):
    """`lax.conv_transpose(x, kernel, strides, pads)`: the input gradient of the strided
    convolution z -> x with the kernel flipped, its channel axes swapped, padded
    (k − 1 − lo, k − 1 − hi)."""
    z_hw = tuple((n - 1) * s + 1 + lo + hi - k + 1 for n, k, s, (lo, hi)
                 in zip(x.shape[1:3], kernel.shape[:2], strides, pads))
    geo = geometry(strides, transposed_pads(kernel.shape[:2], pads), z_hw, kernel.shape[:2])
    return conv_input_grad(x, jnp.flip(kernel, (0, 1)).swapaxes(2, 3), geo, formulation)


def flip_kernel(w):
    """w flipped, channel axes swapped: `conv_transpose`'s kernel back from the strided
    convolution's, swapped first so that XLA cancels the two (in the step both are traced)."""
    return jnp.flip(w.swapaxes(2, 3), (0, 1))


def transposed_pads(kernel_hw, pads) -> tuple:
    """The padding of the strided convolution a transposed convolution padded `pads` transposes."""
    return tuple((k - 1 - lo, k - 1 - hi) for k, (lo, hi) in zip(kernel_hw, pads))


def _check(name: str, got: tuple, expected: tuple) -> None:
    if tuple(got) != tuple(expected):
        raise ValueError(f"convolution {name} has shape {tuple(got)}; expected {tuple(expected)}")


def _fwd_aval(x, w, *, geo, formulation):
    _check("input", x.shape[1:3], geo.x_hw)
    _check("kernel", w.shape[:3], (*geo.k_hw, x.shape[3]))
    return ShapedArray((x.shape[0], *geo.y_hw(), w.shape[3]), x.dtype)


def _bwd_data_aval(g, w, *, geo, formulation):
    _check("output gradient", g.shape[1:], (*geo.y_hw(), w.shape[3]))
    _check("kernel", w.shape[:2], geo.k_hw)
    return ShapedArray((g.shape[0], *geo.x_hw, w.shape[2]), g.dtype)


def _bwd_weights_aval(x, g, *, geo, formulation):
    _check("input", x.shape[1:3], geo.x_hw)
    _check("output gradient", g.shape[:3], (x.shape[0], *geo.y_hw()))
    return ShapedArray((*geo.k_hw, x.shape[3], g.shape[3]), x.dtype)


# Transposes: <fwd(x, w), g> = <x, bwd_data(g, w)> = <w, bwd_weights(x, g)>.
ad.defbilinear(fwd_p, lambda ct, x, w, **p: bwd_data_p.bind(ct, w, **p),
               lambda ct, x, w, **p: bwd_weights_p.bind(x, ct, **p))
ad.defbilinear(bwd_data_p, lambda ct, g, w, **p: fwd_p.bind(ct, w, **p),
               lambda ct, g, w, **p: bwd_weights_p.bind(ct, g, **p))
ad.defbilinear(bwd_weights_p, lambda ct, x, g, **p: bwd_data_p.bind(g, ct, **p),
               lambda ct, x, g, **p: fwd_p.bind(x, ct, **p))


def _batch(prim, args, dims, **params):
    """A batched activation with an unbatched kernel folds into the convolution's batch; anything
    else (kernels, or kernel gradients, per element) runs element by element."""
    (a, b), (a_dim, b_dim) = args, dims
    if b_dim is None and prim is not bwd_weights_p:
        a = jnp.moveaxis(a, a_dim, 0)
        out = prim.bind(a.reshape(-1, *a.shape[2:]), b, **params)
        return out.reshape(a.shape[0], -1, *out.shape[1:]), 0
    mapped = [jnp.moveaxis(v, d, 0) for v, d in zip(args, dims) if d is not None]

    def one(elements):
        elements = iter(elements)
        return prim.bind(*(v if d is None else next(elements) for v, d in zip(args, dims)),
                         **params)

    return lax.map(one, mapped), 0


def _register(prim, abstract_eval, pass_name: str) -> None:
    prim.def_abstract_eval(abstract_eval)
    batching.primitive_batchers[prim] = lambda args, dims, **params: _batch(prim, args, dims,
                                                                            **params)

    def lower(a, b, *, geo, formulation):
        return getattr(formulation, pass_name)(a, b, geo)

    mlir.register_lowering(prim, mlir.lower_fun(lower, multiple_results=False))
    # oneDNN's lowering holds a `custom_partitioning`, which needs the devices when it lowers.
    dispatch.prim_requires_devices_during_lowering.add(prim)
    # Outside jit a pass is its own compiled program, as lax's primitives are.
    prim.def_impl(jax.jit(prim.bind, static_argnames=("geo", "formulation")))


_register(fwd_p, _fwd_aval, "fwd")
_register(bwd_data_p, _bwd_data_aval, "bwd_data")
_register(bwd_weights_p, _bwd_weights_aval, "bwd_weights")
