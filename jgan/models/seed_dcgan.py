"""The seed DCGAN: the TensorFlow DCGAN tutorial model for 28×28×1 images.

Layer for layer the Keras model (including Keras' BatchNorm epsilon 1e-3, momentum 0.99 and
Glorot-uniform kernels), so results can be compared with the tutorial. `width` scales every layer's
channels (G 4w, 2w, w; D w, 2w); the tutorial's is 64.
"""
import functools
from typing import Any, Optional

import flax.linen as nn
import jax.numpy as jnp

from jgan import models
from jgan.nn import BatchNorm, Conv, ConvTranspose, Dropout, maybe_spectral_norm
from jgan.nn import precision as precision_lib

_glorot = nn.initializers.xavier_uniform()


def _leaky_relu(x):
    return nn.leaky_relu(x, negative_slope=0.3)


class Generator(nn.Module):
    """z [B, Z] -> images [B, 28, 28, 1] in [-1, 1]. No biases: each layer feeds a BatchNorm."""
    width: int = 64
    axis_name: Optional[str] = None
    conv_impl: str = "auto"  # The layers' `impl` (jgan.nn.convolution).
    dtype: Any = jnp.float32  # The computation dtype (jgan.nn.precision); images are float32.

    @nn.compact
    def __call__(self, z_BxZ, labels=None, *, train: bool):
        bn = functools.partial(BatchNorm, use_running_average=not train, momentum=0.99,
                               epsilon=1e-3, axis_name=self.axis_name, impl=self.conv_impl,
                               dtype=self.dtype)
        conv_t = functools.partial(ConvTranspose, kernel_size=(5, 5), padding="SAME",
                                   use_bias=False, kernel_init=_glorot, impl=self.conv_impl,
                                   dtype=self.dtype)
        w = self.width
        x = nn.Dense(7 * 7 * 4 * w, use_bias=False, kernel_init=_glorot, dtype=self.dtype)(z_BxZ)
        x = _leaky_relu(bn()(x)).reshape(-1, 7, 7, 4 * w)
        x = _leaky_relu(bn()(conv_t(2 * w, strides=(1, 1))(x)))
        x = _leaky_relu(bn()(conv_t(w, strides=(2, 2))(x)))
        return jnp.tanh(conv_t(1, strides=(2, 2))(x)).astype(jnp.float32)


class Discriminator(nn.Module):
    """images [B, 28, 28, 1] -> logits [B]; `spectral_norm` wraps its layers in SpectralNorm."""
    width: int = 64
    spectral_norm: bool = False
    conv_impl: str = "auto"
    dtype: Any = jnp.float32  # The computation dtype (jgan.nn.precision); logits are float32.

    @nn.compact
    def __call__(self, x_BxHxWxC, labels=None, *, train: bool):
        conv = functools.partial(Conv, kernel_size=(5, 5), strides=(2, 2), padding="SAME",
                                 kernel_init=_glorot, impl=self.conv_impl, dtype=self.dtype)
        sn = functools.partial(maybe_spectral_norm, enabled=self.spectral_norm, train=train)
        x = Dropout(0.3, deterministic=not train)(_leaky_relu(sn(conv(self.width))(x_BxHxWxC)))
        x = Dropout(0.3, deterministic=not train)(_leaky_relu(sn(conv(2 * self.width))(x)))
        x = x.reshape(x.shape[0], -1)
        return sn(nn.Dense(1, kernel_init=_glorot, dtype=self.dtype))(x)[:, 0].astype(jnp.float32)


@models.register("seed_dcgan")
def seed_dcgan(width: int = 64, axis_name: Optional[str] = None, spectral_norm: bool = False,
               conv_impl: str = "auto", precision: str = "float32"):
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ValueError(f"seed_dcgan width {width!r}; expected a positive integer")
    precision_lib.check(precision, conv_impl)  # Bad names fail here, not inside a trace.
    dtype = precision_lib.dtype(precision)
    return (Generator(width=width, axis_name=axis_name, conv_impl=conv_impl, dtype=dtype),
            Discriminator(width=width, spectral_norm=spectral_norm, conv_impl=conv_impl,
                          dtype=dtype))
