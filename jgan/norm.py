"""`BatchNorm` with Flax's parameters and semantics, whose batch sums are matrix products on CPU.

XLA:CPU splits every sum over more than 32 rows into a reduce-window and a reduce, and BatchNorm's
per-channel sums over B·H·W rows ran 4–5× slower that way than as a vector-matrix product
`ones @ x` (`dcgan32`'s D layer at batch 64, [4096, 128]: 0.97 against 0.19 ms for both
statistics). Autodiff would turn the broadcasts of the statistics back into such reductions, so on
CPU the training-mode layer is a `jax.custom_vjp` whose forward statistics and two backward sums
(of g and of g·x̂) are `ones @ ·`: the `dcgan32` step ×1.02 (153.7 → 150.5 ms, paired median
×1.023 over 11 rounds in one process), the seed DCGAN's ×1.00–1.01 (batch 64 and 256), and both
compile 0.3–0.6 s faster (fewer kernels). Elsewhere (`impl="reference"`, or GPU / TPU under "auto")
the same formulas take `jnp.mean` and autodiff, as `flax.linen.BatchNorm` does.

Both paths compute what `flax.linen.BatchNorm(axis=-1)` does with its defaults: statistics in at
least float32, var = E[x²] − E[x]² clipped at 0, `lax.pmean` over `axis_name`, running averages
updated outside initialisation; the parameters and batch statistics have Flax's names and shapes,
so checkpoints move between this layer, Flax's, and backends.
"""
import functools
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from jgan import layers


class BatchNorm(nn.Module):
    """`flax.linen.BatchNorm` over the last axis (see the module docstring for the CPU path)."""
    use_running_average: Optional[bool] = None
    momentum: float = 0.99
    epsilon: float = 1e-5
    axis_name: Optional[str] = None
    impl: str = "auto"  # "fast" / "reference" force a path, as in jgan.layers.

    @nn.compact
    def __call__(self, x, use_running_average: Optional[bool] = None):
        use_running_average = nn.merge_param("use_running_average", self.use_running_average,
                                             use_running_average)
        features = (x.shape[-1],)
        ra_mean = self.variable("batch_stats", "mean", jnp.zeros, features, jnp.float32)
        ra_var = self.variable("batch_stats", "var", jnp.ones, features, jnp.float32)
        scale = self.param("scale", nn.initializers.ones, features, jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, features, jnp.float32)
        if use_running_average:
            return _normalize(x, ra_mean.value, ra_var.value, scale, bias, self.epsilon)
        train = _fast_train if layers.use_fast(self.impl) else _reference_train
        x_NxC = x.reshape(-1, x.shape[-1])
        y_NxC, (mean, var) = train(x_NxC, scale, bias, self.epsilon, self.axis_name)
        if not self.is_initializing():
            ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
            ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
        return y_NxC.reshape(x.shape)


def _normalize(x, mean, var, scale, bias, epsilon):
    return ((x - mean) * (lax.rsqrt(var + epsilon) * scale) + bias).astype(x.dtype)


def _moments(x_NxC, axis_name, column_mean):
    """(E[x], E[x²] − E[x]²) over the rows (and `axis_name`); the variance is not yet clipped."""
    x_NxC = x_NxC.astype(jnp.promote_types(x_NxC.dtype, jnp.float32))
    moments = jnp.stack([column_mean(x_NxC), column_mean(x_NxC * x_NxC)])
    if axis_name is not None:
        moments = lax.pmean(moments, axis_name)
    mean, mean2 = moments
    return mean, mean2 - mean * mean


def _clip(var):
    return jnp.maximum(0.0, var)  # Rounding can leave E[x²] − E[x]² below 0.


def _reference_train(x_NxC, scale, bias, epsilon, axis_name):
    mean, var = _moments(x_NxC, axis_name, lambda x: x.mean(0))
    var = _clip(var)
    return _normalize(x_NxC, mean, var, scale, bias, epsilon), (mean, var)


def _row_sum(x_NxC):
    """Σ over rows as a vector-matrix product: XLA:CPU's fast path for it."""
    return jnp.ones((x_NxC.shape[0],), x_NxC.dtype) @ x_NxC


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _fast_train(x_NxC, scale, bias, epsilon, axis_name):
    return _fast_fwd(x_NxC, scale, bias, epsilon, axis_name)[0]


def _fast_fwd(x_NxC, scale, bias, epsilon, axis_name):
    mean, raw_var = _moments(x_NxC, axis_name, lambda x: _row_sum(x) / x.shape[0])
    var, d_clip = jax.jvp(_clip, (raw_var,), (jnp.ones_like(raw_var),))  # JAX's own ∂clip.
    y = _normalize(x_NxC, mean, var, scale, bias, epsilon)
    return (y, (mean, var)), (x_NxC, scale, mean, var, d_clip)


def _fast_bwd(epsilon, axis_name, residuals, cotangents):
    """y = x̂·scale + bias with x̂ = (x − mean)·rstd, mean and var over all N rows of all devices:
    dx = scale·rstd·(g − Σg/N − x̂·Σ(g·x̂)/N), the sums over every device (the statistics are
    shared); the statistics' own cotangents (zero in training) enter through ∂mean/∂x = 1/N and
    ∂var/∂x = 2(x − mean)/N. Parameter gradients are this device's sums, as autodiff gives."""
    x_NxC, scale, mean, var, d_clip = residuals
    g, (g_mean, g_var) = cotangents
    rstd = lax.rsqrt(var + epsilon)
    x_hat = (x_NxC - mean) * rstd
    sum_g, sum_g_xhat = _row_sum(g), _row_sum(g * x_hat)
    var_ct = (-0.5 * scale * rstd * sum_g_xhat * rstd + g_var) * d_clip
    mean_ct = -scale * rstd * sum_g + g_mean
    n = x_NxC.shape[0]
    if axis_name is not None:
        mean_ct, var_ct = lax.psum((mean_ct, var_ct), axis_name)
        n = n * lax.psum(1, axis_name)
    dx = scale * rstd * g + mean_ct / n + var_ct * 2.0 * (x_NxC - mean) / n
    return dx.astype(x_NxC.dtype), sum_g_xhat, sum_g


_fast_train.defvjp(_fast_fwd, _fast_bwd)
