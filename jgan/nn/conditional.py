"""Class conditioning: conditional BatchNorm for G, the projection head for D (Miyato & Koyama
2018, "cGANs with Projection Discriminator"), and the label check conditional models share."""
from typing import Any, Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jgan.nn.norm import BatchNorm
from jgan.nn.spectral_norm import maybe_spectral_norm


def check_labels(labels, num_classes: int, who: str) -> None:
    """Rejects missing labels, and (when their values are known, outside `jit`) out-of-range ones."""
    if labels is None:
        raise ValueError(f"{who} is class-conditional ({num_classes} classes): labels [B] are "
                         f"required, got None")
    if isinstance(labels, jax.core.Tracer):
        return
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels.max() if labels.max() >= num_classes else labels.min()
        raise ValueError(f"{who} got label {bad}; expected labels in [0, {num_classes})")


def _scale_and_shift_init(key, shape, dtype=jnp.float32):
    """Rows [γ | β]: γ ~ N(1, 0.02), β = 0 (Mimicry's and BigGAN's initialisation)."""
    features = shape[-1] // 2
    gamma = 1.0 + 0.02 * jax.random.normal(key, (*shape[:-1], features), dtype)
    return jnp.concatenate([gamma, jnp.zeros_like(gamma)], axis=-1)


class ConditionalBatchNorm(nn.Module):
    """BatchNorm without its own scale and shift, then a class's γ, β: γ_y·x̂ + β_y.

    γ and β are the two halves of one embedding row [γ | β] (`embed`, [num_classes, 2C]), as in
    Mimicry's ConditionalBatchNorm2d; the statistics are BatchNorm's (`bn`), shared by all classes.
    """
    num_classes: int
    use_running_average: Optional[bool] = None
    momentum: float = 0.99
    epsilon: float = 1e-5
    unbiased_running_var: bool = False
    axis_name: Optional[str] = None
    impl: str = "auto"
    dtype: Optional[Any] = None  # The result's dtype, as BatchNorm's.
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, labels, use_running_average: Optional[bool] = None):
        x_hat = BatchNorm(self.use_running_average, self.momentum, self.epsilon, use_bias=False,
                          use_scale=False, unbiased_running_var=self.unbiased_running_var,
                          axis_name=self.axis_name, impl=self.impl, dtype=self.dtype,
                          param_dtype=self.param_dtype, name="bn")(x, use_running_average)
        features = x.shape[-1]
        gamma_beta = nn.Embed(self.num_classes, 2 * features, embedding_init=_scale_and_shift_init,
                              dtype=x_hat.dtype, param_dtype=self.param_dtype,
                              name="embed")(labels)
        shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (features,)
        gamma, beta = (t.reshape(shape) for t in jnp.split(gamma_beta, 2, axis=-1))
        return gamma * x_hat + beta


class ProjectionHead(nn.Module):
    """D's logit from pooled features h [B, F]: ψ(h) = linear(h), plus ⟨embed(y), h⟩ when
    conditional (the projection discriminator). `spectral_norm` wraps both layers in SpectralNorm
    (`sn_eval_power_iteration`: its field `eval_power_iteration`).
    """
    num_classes: Optional[int] = None
    spectral_norm: bool = False
    sn_eval_power_iteration: bool = False
    kernel_init: Callable[..., Any] = nn.initializers.xavier_uniform()
    embedding_init: Callable[..., Any] = nn.initializers.xavier_uniform()
    bias_init: Callable[..., Any] = nn.initializers.zeros_init()
    dtype: Optional[Any] = None  # The computation dtype, as flax.linen.Dense's.
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, h_BxF, labels=None, *, train: bool):
        def maybe_sn(layer, *args):
            return maybe_spectral_norm(layer, self.spectral_norm, train,
                                       eval_power_iteration=self.sn_eval_power_iteration)(*args)

        dtypes = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        linear = nn.Dense(1, kernel_init=self.kernel_init, bias_init=self.bias_init, name="linear",
                          **dtypes)
        logits_B = maybe_sn(linear, h_BxF)[:, 0]
        if self.num_classes:
            check_labels(labels, self.num_classes, "the projection head")
            embed = nn.Embed(self.num_classes, h_BxF.shape[-1], embedding_init=self.embedding_init,
                             name="embed", **dtypes)
            logits_B += jnp.sum(maybe_sn(embed, labels) * h_BxF, axis=-1)
        return logits_B
