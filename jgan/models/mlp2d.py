"""MLPs for 2-D toy data: the mode-collapse setup of VEEGAN and PacGAN.

G: 4 hidden layers of 400 ReLU units with BatchNorm, from low-dimensional Gaussian noise.
D: 3 hidden layers of 200 maxout units (5 pieces each).
"""
import functools
from typing import Any, Optional

import flax.linen as nn
import jax.numpy as jnp

from jgan import models
from jgan.nn import BatchNorm, maybe_spectral_norm
from jgan.nn import precision as precision_lib


class Generator(nn.Module):
    out_dim: int = 2
    hidden: int = 400
    depth: int = 4
    axis_name: Optional[str] = None
    dtype: Any = jnp.float32  # The computation dtype (jgan.nn.precision); samples are float32.

    @nn.compact
    def __call__(self, z_BxZ, labels=None, *, train: bool):
        bn = functools.partial(BatchNorm, use_running_average=not train, momentum=0.9,
                               axis_name=self.axis_name, dtype=self.dtype)
        x = z_BxZ
        for _ in range(self.depth):
            x = nn.relu(bn()(nn.Dense(self.hidden, use_bias=False, dtype=self.dtype)(x)))
        return nn.Dense(self.out_dim, dtype=self.dtype)(x).astype(jnp.float32)


class Discriminator(nn.Module):
    hidden: int = 200
    depth: int = 3
    maxout_pieces: int = 5
    spectral_norm: bool = False  # Wraps every Dense in SpectralNorm.
    dtype: Any = jnp.float32  # The computation dtype (jgan.nn.precision); logits are float32.

    @nn.compact
    def __call__(self, x_BxN, labels=None, *, train: bool):
        sn = functools.partial(maybe_spectral_norm, enabled=self.spectral_norm, train=train)
        x = x_BxN.reshape(x_BxN.shape[0], -1)
        for _ in range(self.depth):
            x = sn(nn.Dense(self.hidden * self.maxout_pieces, dtype=self.dtype))(x)
            x = x.reshape(x.shape[0], self.hidden, self.maxout_pieces).max(axis=-1)
        return sn(nn.Dense(1, dtype=self.dtype))(x)[:, 0].astype(jnp.float32)


@models.register("mlp2d")
def mlp2d(out_dim: int = 2, g_hidden: int = 400, d_hidden: int = 200, maxout_pieces: int = 5,
          spectral_norm: bool = False, axis_name: Optional[str] = None,
          precision: str = "float32"):
    dtype = precision_lib.dtype(precision)
    return (Generator(out_dim=out_dim, hidden=g_hidden, axis_name=axis_name, dtype=dtype),
            Discriminator(hidden=d_hidden, maxout_pieces=maxout_pieces,
                          spectral_norm=spectral_norm, dtype=dtype))
