"""DCGAN of Radford et al. (2016): 4×4 kernels, stride-2 (transposed) convolutions, 32 or 64 px.

With `num_classes`, G concatenates a learned label embedding to z and D adds a projection head
(Miyato & Koyama 2018): logit += <embed(y), sum-pooled features>. `spectral_norm=True` wraps
every layer of D with weights in `jgan.nn.SpectralNorm` (its BatchNorm stays; parameter names do
not change).
"""
import functools
import math
from typing import Any, Optional

import flax.linen as nn
import jax.numpy as jnp

from jgan import models
from jgan.nn import BatchNorm, Conv, ConvTranspose, check_labels, maybe_spectral_norm
from jgan.nn import precision as precision_lib

_init = nn.initializers.normal(0.02)  # The paper's N(0, 0.02) initialisation.


def _num_scales(resolution: int) -> int:
    """Number of ×2 stages between 4×4 and `resolution`."""
    if resolution not in (32, 64):
        raise ValueError(f"dcgan resolution {resolution} is not supported; expected 32 or 64")
    return int(math.log2(resolution)) - 2


class Generator(nn.Module):
    resolution: int = 64
    channels: int = 3
    width: int = 64
    num_classes: Optional[int] = None
    axis_name: Optional[str] = None
    conv_impl: str = "auto"  # The layers' `impl` (jgan.nn.convolution).
    dtype: Any = jnp.float32  # The computation dtype (jgan.nn.precision); images are float32.

    @nn.compact
    def __call__(self, z_BxZ, labels=None, *, train: bool):
        bn = functools.partial(BatchNorm, use_running_average=not train,
                               axis_name=self.axis_name, impl=self.conv_impl, dtype=self.dtype)
        conv_t = functools.partial(ConvTranspose, kernel_size=(4, 4), strides=(2, 2),
                                   padding="SAME", kernel_init=_init, impl=self.conv_impl,
                                   dtype=self.dtype)
        n = _num_scales(self.resolution)
        features = self.width * 2 ** (n - 1)
        x = z_BxZ
        if self.num_classes:
            check_labels(labels, self.num_classes, "dcgan's G")
            embed = nn.Embed(self.num_classes, z_BxZ.shape[-1], dtype=self.dtype)
            x = jnp.concatenate([x.astype(self.dtype), embed(labels)], axis=-1)
        x = nn.Dense(4 * 4 * features, use_bias=False, kernel_init=_init, dtype=self.dtype)(x)
        x = nn.relu(bn()(x)).reshape(-1, 4, 4, features)
        for _ in range(n - 1):
            features //= 2
            x = nn.relu(bn()(conv_t(features, use_bias=False)(x)))
        return jnp.tanh(conv_t(self.channels)(x)).astype(jnp.float32)


class Discriminator(nn.Module):
    resolution: int = 64
    width: int = 64
    num_classes: Optional[int] = None
    spectral_norm: bool = False
    axis_name: Optional[str] = None
    conv_impl: str = "auto"
    dtype: Any = jnp.float32  # The computation dtype (jgan.nn.precision); logits are float32.

    @nn.compact
    def __call__(self, x_BxHxWxC, labels=None, *, train: bool):
        bn = functools.partial(BatchNorm, use_running_average=not train,
                               axis_name=self.axis_name, impl=self.conv_impl, dtype=self.dtype)
        conv = functools.partial(Conv, kernel_size=(4, 4), strides=(2, 2), padding="SAME",
                                 kernel_init=_init, impl=self.conv_impl, dtype=self.dtype)
        sn = functools.partial(maybe_spectral_norm, enabled=self.spectral_norm, train=train)
        features = self.width
        x = nn.leaky_relu(sn(conv(features))(x_BxHxWxC), 0.2)
        for _ in range(_num_scales(self.resolution) - 1):
            features *= 2
            x = nn.leaky_relu(bn()(sn(conv(features, use_bias=False))(x)), 0.2)
        dense = nn.Dense(1, kernel_init=_init, dtype=self.dtype)
        logits_B = sn(dense)(x.reshape(x.shape[0], -1))[:, 0].astype(jnp.float32)
        if self.num_classes:
            check_labels(labels, self.num_classes, "dcgan's D")
            h_BxF = x.sum(axis=(1, 2), dtype=jnp.float32)  # A float32 sum: bfloat16's drifts.
            embed_BxF = sn(nn.Embed(self.num_classes, features))(labels)
            logits_B += jnp.sum(embed_BxF * h_BxF, axis=-1)
        return logits_B


@models.register("dcgan")
def dcgan(resolution: int = 64, channels: int = 3, width: int = 64,
          num_classes: Optional[int] = None, spectral_norm: bool = False,
          axis_name: Optional[str] = None, conv_impl: str = "auto", precision: str = "float32"):
    _num_scales(resolution)
    precision_lib.check(precision, conv_impl)  # Bad names fail here, not inside a trace.
    kw = dict(resolution=resolution, width=width, num_classes=num_classes, axis_name=axis_name,
              conv_impl=conv_impl, dtype=precision_lib.dtype(precision))
    return Generator(channels=channels, **kw), Discriminator(spectral_norm=spectral_norm, **kw)
