"""BatchNorm's training-mode statistics for XLA:CPU, with batch sums as matrix products.

XLA:CPU splits every sum over more than 32 rows into a reduce-window and a reduce, which runs
several times slower than the vector-matrix product `ones @ x`
(`python experiments/benchmarks/step_speed.py`, docs/cpu_performance.md). So the statistics are
`ones @ ·`, per-channel vectors reach the rows through `rows_p`, a broadcast whose transpose is
`ones @ ·` (autodiff would transpose a broadcast into a reduction), and the JVP is written so
that its transpose, the backward pass, needs two such sums: of g and of g·(x − mean).
"""
import functools

import jax
import jax.numpy as jnp
from jax import lax
from jax.core import ShapedArray
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

from jgan.nn.norm import clip_variance, moments


def _row_sum(x_NxC):
    """Σ over rows as a vector-matrix product: XLA:CPU's fast path for it."""
    return jnp.ones((x_NxC.shape[0],), x_NxC.dtype) @ x_NxC


rows_p = Primitive("cpu_rows")  # rows_p.bind(v, n=n): v repeated over n leading rows.


def _rows(v, n: int):
    return rows_p.bind(v, n=n)


def _broadcast(v, *, n):
    return jnp.broadcast_to(v, (n, *v.shape))


def _rows_transpose(ct, v, *, n):
    return [_row_sum(ct.reshape(n, -1)).reshape(v.aval.shape)]


rows_p.def_impl(_broadcast)
rows_p.def_abstract_eval(lambda v, *, n: ShapedArray((n, *v.shape), v.dtype))
ad.deflinear2(rows_p, _rows_transpose)
batching.primitive_batchers[rows_p] = lambda args, dims, *, n: (_rows(args[0], n), dims[0] + 1)
mlir.register_lowering(rows_p, mlir.lower_fun(_broadcast, multiple_results=False))


@functools.partial(jax.custom_jvp, nondiff_argnums=(3, 4))
def batch_norm_train(x_NxC, scale, bias, epsilon, axis_name):
    """(y, (mean, var)) of BatchNorm in training mode over the rows of x [N, C]."""
    return _statistics(x_NxC, scale, bias, epsilon, axis_name)[0]


def _statistics(x_NxC, scale, bias, epsilon, axis_name):
    """The outputs (`jgan.nn.norm.normalize`'s arithmetic) and, for the JVP, (x̂ = (x − mean)/std,
    1/std, ∂clip/∂var)."""
    n = x_NxC.shape[0]
    mean, raw_var = moments(x_NxC, axis_name, lambda x: _row_sum(x) / n)
    var, d_clip = jax.jvp(clip_variance, (raw_var,), (jnp.ones_like(raw_var),))  # JAX's own ∂clip.
    rstd = lax.rsqrt(var + epsilon)
    centred = x_NxC.astype(mean.dtype) - _rows(mean, n)
    y = (centred * _rows(rstd * scale, n) + _rows(bias, n)).astype(x_NxC.dtype)
    return (y, (mean, var)), (centred * _rows(rstd, n), rstd, d_clip)


@batch_norm_train.defjvp
def _jvp(epsilon, axis_name, primals, tangents):
    """y = x̂·scale + bias with x̂ = (x − mean)·rstd, mean and var over all rows of all devices:
    dy = (dx − dmean)·rstd·scale + x̂·(dscale − rstd·scale·E[x̂·dx]·∂clip) + dbias, with
    dmean = E[dx] and dvar = 2·E[x̂·dx]·∂clip / rstd."""
    x_NxC, scale, _ = primals
    dx, dscale, dbias = tangents
    out, (x_hat, rstd, d_clip) = _statistics(*primals, epsilon, axis_name)
    n = x_NxC.shape[0]
    d_mean, d_hat = _row_sum(dx.astype(x_hat.dtype)) / n, _row_sum(x_hat * dx) / n
    if axis_name is not None:
        d_mean, d_hat = lax.pmean((d_mean, d_hat), axis_name)
    gain = rstd * scale
    d_scale_hat = dscale - gain * d_clip * d_hat
    dy = dx * _rows(gain, n) + x_hat * _rows(d_scale_hat, n) + _rows(dbias - d_mean * gain, n)
    return out, (dy.astype(x_NxC.dtype), (d_mean, 2.0 * d_hat * d_clip / rstd))
