"""The InfoGAN-style G and D of Lucic et al. (2018), "Are GANs Created Equal? A Large-Scale Study".

The network behind that paper's MNIST and Fashion-MNIST results (its Table 2: F-MNIST FID of
NS GAN 26.5, WGAN 21.5, ...), layer for layer as compare_gan implements it
(google/compare_gan: `compare_gan/src/gans/abstract_gan.py` and `ops.py`; later
`compare_gan/architectures/infogan.py`):

G: z → FC 1024 → BN → LReLU → FC 128·(H/4)·(W/4) → BN → LReLU → deconv 64 4×4/2 → BN → LReLU →
   deconv C 4×4/2 → sigmoid.
D: conv 64 4×4/2 → LReLU → conv 128 4×4/2 → [BN] → LReLU → FC 1024 → [BN] → LReLU → FC 1.

LReLU slope 0.2; BatchNorm as `tf.contrib.layers.batch_norm(decay=0.999, epsilon=0.001)`; weights
N(0, 0.02) (convolutions truncated at 2σ, as TF's `truncated_normal_initializer`), biases 0. D's
BatchNorm is optional (`d_batchnorm`): the paper uses it for every loss but WGAN-GP. G's sigmoid
output s in [0, 1] is returned as 2s − 1 (= tanh(x/2)), jgan's [-1, 1] image range; compare_gan
draws z ~ U(-1, 1) where jgan's step draws N(0, I).
"""
import functools
from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from jgan import models
from jgan.nn import BatchNorm, Conv, ConvTranspose, maybe_spectral_norm
from jgan.nn import precision as precision_lib

_normal = nn.initializers.normal(0.02)
_truncated = nn.initializers.truncated_normal(0.02)  # N(0, 0.02²) cut at ±2σ, not rescaled.


def _lrelu(x):
    return nn.leaky_relu(x, negative_slope=0.2)


def _bn(train: bool, axis_name: Optional[str], impl: str, dtype):
    return BatchNorm(use_running_average=not train, momentum=0.999, epsilon=1e-3,
                     axis_name=axis_name, impl=impl, dtype=dtype)


class Generator(nn.Module):
    """z [B, Z] -> images [B, H, W, C] in [-1, 1]; H and W divisible by 4."""
    image_shape: tuple = (28, 28, 1)
    axis_name: Optional[str] = None
    conv_impl: str = "auto"
    dtype: Any = jnp.float32  # The computation dtype (jgan.nn.precision); images are float32.

    @nn.compact
    def __call__(self, z_BxZ, labels=None, *, train: bool):
        h, w, c = self.image_shape
        bn = functools.partial(_bn, train, self.axis_name, self.conv_impl, self.dtype)
        deconv = functools.partial(ConvTranspose, kernel_size=(4, 4), strides=(2, 2),
                                   padding="SAME", kernel_init=_normal, impl=self.conv_impl,
                                   dtype=self.dtype)
        dense = functools.partial(nn.Dense, kernel_init=_normal, dtype=self.dtype)
        x = _lrelu(bn()(dense(1024)(z_BxZ)))
        x = _lrelu(bn()(dense(128 * (h // 4) * (w // 4))(x)))
        x = _lrelu(bn()(deconv(64)(x.reshape(-1, h // 4, w // 4, 128))))
        return 2.0 * jax.nn.sigmoid(deconv(c)(x).astype(jnp.float32)) - 1.0


class Discriminator(nn.Module):
    """images [B, H, W, C] -> logits [B]."""
    d_batchnorm: bool = True
    spectral_norm: bool = False
    axis_name: Optional[str] = None
    conv_impl: str = "auto"
    dtype: Any = jnp.float32  # The computation dtype (jgan.nn.precision); logits are float32.

    @nn.compact
    def __call__(self, x_BxHxWxC, labels=None, *, train: bool):
        conv = functools.partial(Conv, kernel_size=(4, 4), strides=(2, 2), padding="SAME",
                                 kernel_init=_truncated, impl=self.conv_impl, dtype=self.dtype)
        dense = functools.partial(nn.Dense, kernel_init=_normal, dtype=self.dtype)
        sn = functools.partial(maybe_spectral_norm, enabled=self.spectral_norm, train=train)
        bn = (functools.partial(_bn, train, self.axis_name, self.conv_impl, self.dtype)
              if self.d_batchnorm else lambda: (lambda t: t))
        x = _lrelu(sn(conv(64))(x_BxHxWxC))
        x = _lrelu(bn()(sn(conv(128))(x)))
        x = _lrelu(bn()(sn(dense(1024))(x.reshape(x.shape[0], -1))))
        return sn(dense(1))(x)[:, 0].astype(jnp.float32)


@models.register("lucic_infogan")
def lucic_infogan(image_shape=(28, 28, 1), d_batchnorm: bool = True, spectral_norm: bool = False,
                  axis_name: Optional[str] = None, conv_impl: str = "auto",
                  precision: str = "float32"):
    """Lucic et al. (2018)'s InfoGAN-style pair, as compare_gan's `abstract_gan.py` builds it."""
    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) != 3 or image_shape[0] % 4 or image_shape[1] % 4:
        raise ValueError(f"lucic_infogan image_shape {image_shape}; expected (H, W, C) with H and "
                         f"W divisible by 4")
    precision_lib.check(precision, conv_impl)  # Bad names fail here, not inside a trace.
    dtype = precision_lib.dtype(precision)
    return (Generator(image_shape=image_shape, axis_name=axis_name, conv_impl=conv_impl,
                      dtype=dtype),
            Discriminator(d_batchnorm=d_batchnorm, spectral_norm=spectral_norm,
                          axis_name=axis_name, conv_impl=conv_impl, dtype=dtype))
