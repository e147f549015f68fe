"""`BatchNorm` with Flax's parameters, batch statistics and results (`flax.linen.BatchNorm` over
the last axis with its defaults: statistics in at least float32, var = E[x²] − E[x]² clipped at 0,
`lax.pmean` over `axis_name`, running averages updated outside initialisation), so checkpoints
move between this layer, Flax's, and backends.

`impl` as in `jgan.nn.convolution`: on CPU ("auto", "xla_cpu", "onednn") the training-mode statistics
take `jgan.cpu.norm`'s formulation, whose batch sums XLA:CPU runs as matrix products; "lax" (and
"auto" on GPU / TPU) the same formulas with `jnp.mean` and autodiff.

Mixed precision as in Flax: statistics, running averages and parameters are float32 whatever the
input's dtype; `dtype` is the result's (None: the input's).
"""
from typing import Any, Optional

import flax.linen as nn
import jax.numpy as jnp
from jax import lax

from jgan.nn import convolution


class BatchNorm(nn.Module):
    """`flax.linen.BatchNorm` over the last axis (see the module docstring for the CPU path).

    `unbiased_running_var`: the running variance averages the unbiased batch variance
    (n/(n − 1) times the one that normalises), as PyTorch's BatchNorm does; Flax averages the
    biased one.
    """
    use_running_average: Optional[bool] = None
    momentum: float = 0.99
    epsilon: float = 1e-5
    use_bias: bool = True
    use_scale: bool = True
    unbiased_running_var: bool = False
    axis_name: Optional[str] = None
    impl: str = "auto"  # As in jgan.nn.convolution.
    dtype: Optional[Any] = None  # The result's dtype; None: the input's.
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, use_running_average: Optional[bool] = None):
        use_running_average = nn.merge_param("use_running_average", self.use_running_average,
                                             use_running_average)
        features = (x.shape[-1],)
        ra_mean = self.variable("batch_stats", "mean", jnp.zeros, features, jnp.float32)
        ra_var = self.variable("batch_stats", "var", jnp.ones, features, jnp.float32)
        scale = (self.param("scale", nn.initializers.ones, features, self.param_dtype)
                 if self.use_scale else jnp.ones(features, jnp.float32))
        bias = (self.param("bias", nn.initializers.zeros, features, self.param_dtype)
                if self.use_bias else jnp.zeros(features, jnp.float32))
        dtype = x.dtype if self.dtype is None else self.dtype
        if use_running_average:
            y = normalize(x, ra_mean.value, ra_var.value, scale, bias, self.epsilon)
            return y.astype(dtype)
        train = _reference_train if convolution.resolve(self.impl) == "lax" else _cpu_train
        x_NxC = x.reshape(-1, x.shape[-1])
        y_NxC, (mean, var) = train(x_NxC, scale, bias, self.epsilon, self.axis_name)
        if self.unbiased_running_var:
            n = x_NxC.shape[0] * (1 if self.axis_name is None else lax.axis_size(self.axis_name))
            var = var * n / max(n - 1, 1)
        if not self.is_initializing():
            ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
            ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
        return y_NxC.reshape(x.shape).astype(dtype)


def normalize(x, mean, var, scale, bias, epsilon):
    return ((x - mean) * (lax.rsqrt(var + epsilon) * scale) + bias).astype(x.dtype)


def moments(x_NxC, axis_name, column_mean):
    """(E[x], E[x²] − E[x]²) over the rows (and `axis_name`); the variance is not yet clipped."""
    x_NxC = x_NxC.astype(jnp.promote_types(x_NxC.dtype, jnp.float32))
    moments = jnp.stack([column_mean(x_NxC), column_mean(x_NxC * x_NxC)])
    if axis_name is not None:
        moments = lax.pmean(moments, axis_name)
    mean, mean2 = moments
    return mean, mean2 - mean * mean


def clip_variance(var):
    return jnp.maximum(0.0, var)  # Rounding can leave E[x²] − E[x]² below 0.


def _reference_train(x_NxC, scale, bias, epsilon, axis_name):
    mean, var = moments(x_NxC, axis_name, lambda x: x.mean(0))
    var = clip_variance(var)
    return normalize(x_NxC, mean, var, scale, bias, epsilon), (mean, var)


def _cpu_train(x_NxC, scale, bias, epsilon, axis_name):
    from jgan.cpu import norm  # noqa: PLC0415 — CPU-only code, imported on first use.
    return norm.batch_norm_train(x_NxC, scale, bias, epsilon, axis_name)
