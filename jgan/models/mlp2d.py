"""MLPs for 2-D toy data: the mode-collapse setup of VEEGAN and PacGAN.

G: 4 hidden layers of 400 ReLU units with BatchNorm, from low-dimensional Gaussian noise.
D: 3 hidden layers of 200 maxout units (5 pieces each).
"""
import functools
from typing import Optional

import flax.linen as nn

from jgan import models
from jgan.nn import BatchNorm, maybe_spectral_norm


class Generator(nn.Module):
    out_dim: int = 2
    hidden: int = 400
    depth: int = 4
    axis_name: Optional[str] = None

    @nn.compact
    def __call__(self, z_BxZ, labels=None, *, train: bool):
        bn = functools.partial(BatchNorm, use_running_average=not train, momentum=0.9,
                               axis_name=self.axis_name)
        x = z_BxZ
        for _ in range(self.depth):
            x = nn.relu(bn()(nn.Dense(self.hidden, use_bias=False)(x)))
        return nn.Dense(self.out_dim)(x)


class Discriminator(nn.Module):
    hidden: int = 200
    depth: int = 3
    maxout_pieces: int = 5
    spectral_norm: bool = False  # Wraps every Dense in SpectralNorm.

    @nn.compact
    def __call__(self, x_BxN, labels=None, *, train: bool):
        sn = functools.partial(maybe_spectral_norm, enabled=self.spectral_norm, train=train)
        x = x_BxN.reshape(x_BxN.shape[0], -1)
        for _ in range(self.depth):
            x = sn(nn.Dense(self.hidden * self.maxout_pieces))(x)
            x = x.reshape(x.shape[0], self.hidden, self.maxout_pieces).max(axis=-1)
        return sn(nn.Dense(1))(x)[:, 0]


@models.register("mlp2d")
def mlp2d(out_dim: int = 2, g_hidden: int = 400, d_hidden: int = 200, maxout_pieces: int = 5,
          spectral_norm: bool = False, axis_name: Optional[str] = None):
    return (Generator(out_dim=out_dim, hidden=g_hidden, axis_name=axis_name),
            Discriminator(hidden=d_hidden, maxout_pieces=maxout_pieces,
                          spectral_norm=spectral_norm))
