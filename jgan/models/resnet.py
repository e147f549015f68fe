"""The ResNet GANs of Miyato et al., layer for layer as Mimicry implements them.

- `sngan`: SNGAN (Miyato, Kataoka, Koyama & Yoshida 2018, "Spectral Normalization for Generative
  Adversarial Networks"), torch_mimicry 0.1.16 `nets/sngan/sngan_32.py`, `sngan_48.py`,
  `sngan_64.py`;
- `cgan_pd`: cGAN with projection discriminator (Miyato & Koyama 2018), `nets/cgan_pd/cgan_pd_32.py`;

both built from `modules/resblocks.py` (GBlock, DBlock, DBlockOptimized) and `modules/layers.py`
(SNConv2d, SNLinear, SNEmbedding, ConditionalBatchNorm2d; cGAN-PD's SNLinear and SNEmbedding
resolve to `modules/spectral_norm.py`'s classes). G: z → linear to
bottom_width² · ngf → up-blocks (BN-ReLU-upsample-conv3×3-BN-ReLU-conv3×3, 1×1 shortcut) →
BN-ReLU-conv3×3-tanh. D: an optimised first block and more blocks, all convolutions spectrally
normalised, ReLU, global sum pooling, an SN linear (plus the SN class embedding's projection).

What follows Mimicry exactly (tests/test_mimicry.py checks it against Mimicry's own modules):
the initialisers (Xavier-uniform, gain √2 on the blocks' 3×3 convolutions, 1 elsewhere; PyTorch's
default uniform biases), bilinear ×2 upsampling with align_corners=False, 2×2 average pooling,
PyTorch's BatchNorm (momentum 0.1, ε 1e-5, unbiased running variance), PyTorch's spectral norm
(`jgan.nn.SpectralNorm`) and one quirk: Mimicry's in-place ReLU (`nn.ReLU(True)`) rewrites a
DBlock's input before the shortcut reads it, so its shortcut sees relu(x), not x as in the
Chainer original.
"""
import functools
import math
from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from jgan import models
from jgan.nn import (BatchNorm, ConditionalBatchNorm, Conv, ProjectionHead, check_labels,
                     maybe_spectral_norm)
from jgan.nn import precision as precision_lib

# Mimicry's nets per resolution: G's bottom width and channels (from the linear layer on) in units
# of ngf, D's channels per block in units of ndf and which blocks after the first downsample.
_ARCHS = {
    32: dict(bottom=4, g=(1, 1, 1, 1), d=(1, 1, 1, 1), d_down=(True, False, False)),
    48: dict(bottom=6, g=(1, 1 / 2, 1 / 4, 1 / 8), d=(1 / 16, 1 / 8, 1 / 4, 1 / 2, 1),
             d_down=(True, True, True, False)),
    64: dict(bottom=4, g=(1, 1 / 2, 1 / 4, 1 / 8, 1 / 16), d=(1 / 16, 1 / 8, 1 / 4, 1 / 2, 1),
             d_down=(True, True, True, True)),
}
_DEFAULT_WIDTHS = {32: (256, 128), 48: (512, 1024), 64: (1024, 1024)}  # Mimicry's (ngf, ndf).


def _xavier(gain: float = 1.0):
    """PyTorch's `xavier_uniform_(w, gain)`: U(±gain·√(6 / (fan_in + fan_out)))."""
    return nn.initializers.variance_scaling(gain ** 2, "fan_avg", "uniform")


def _torch_bias(fan_in: int):
    """PyTorch's default bias of Linear and Conv2d: U(±1/√fan_in)."""
    bound = 1 / math.sqrt(fan_in)
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound,
                                                                    bound)


def upsample_2x(x_BxHxWxC):
    """×2 bilinear upsampling with align_corners=False (`F.interpolate`): each output pixel is
    ¾ of its source pixel and ¼ of the neighbour on its side, edges repeated."""
    for axis in (1, 2):
        n = x_BxHxWxC.shape[axis]
        take = functools.partial(jnp.take, x_BxHxWxC, axis=axis)
        before = take(jnp.maximum(jnp.arange(n) - 1, 0))
        after = take(jnp.minimum(jnp.arange(n) + 1, n - 1))
        even, odd = 0.75 * x_BxHxWxC + 0.25 * before, 0.75 * x_BxHxWxC + 0.25 * after
        x_BxHxWxC = jnp.stack([even, odd], axis=axis + 1)
        x_BxHxWxC = x_BxHxWxC.reshape(*x_BxHxWxC.shape[:axis], 2 * n, *x_BxHxWxC.shape[axis + 2:])
    return x_BxHxWxC


def avg_pool_2x(x_BxHxWxC):
    B, H, W, C = x_BxHxWxC.shape
    return x_BxHxWxC.reshape(B, H // 2, 2, W // 2, 2, C).mean(axis=(2, 4))


class _Layers(nn.Module):
    """Shared fields and layer builders of the blocks and networks."""
    spectral_norm: bool = False
    axis_name: Optional[str] = None
    conv_impl: str = "auto"
    dtype: Any = jnp.float32  # The computation dtype (jgan.nn.precision).

    def conv(self, x, features: int, k: int, gain: float, name: str, train: bool):
        """A k×k 'same' convolution with Mimicry's initialisers, spectrally normalised if asked."""
        layer = Conv(features, (k, k), padding="SAME", kernel_init=_xavier(gain),
                     bias_init=_torch_bias(x.shape[-1] * k * k), impl=self.conv_impl,
                     dtype=self.dtype, name=name)
        return maybe_spectral_norm(layer, self.spectral_norm, train)(x)

    def bn(self, name: str, train: bool, num_classes: Optional[int] = None):
        """PyTorch's BatchNorm2d (or Mimicry's ConditionalBatchNorm2d when `num_classes`)."""
        kw = dict(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                  unbiased_running_var=True, axis_name=self.axis_name, impl=self.conv_impl,
                  dtype=self.dtype, name=name)
        return ConditionalBatchNorm(num_classes, **kw) if num_classes else BatchNorm(**kw)


class GBlock(_Layers):
    """Mimicry's GBlock: BN-ReLU-(up)-conv3×3-BN-ReLU-conv3×3, plus a 1×1 shortcut (after the
    upsampling) when the block upsamples or changes width."""
    out_channels: int = 256
    upsample: bool = True
    num_classes: Optional[int] = None

    @nn.compact
    def __call__(self, x, labels=None, *, train: bool):
        def norm(name, h):
            layer = self.bn(name, train, self.num_classes)
            return layer(h, labels) if self.num_classes else layer(h)

        up = upsample_2x if self.upsample else (lambda t: t)
        h = up(nn.relu(norm("b1", x)))
        h = self.conv(h, self.out_channels, 3, math.sqrt(2), "c1", train)
        h = self.conv(nn.relu(norm("b2", h)), self.out_channels, 3, math.sqrt(2), "c2", train)
        if self.upsample or x.shape[-1] != self.out_channels:
            x = self.conv(up(x), self.out_channels, 1, 1.0, "c_sc", train)
        return h + x


class DBlock(_Layers):
    """Mimicry's DBlock (ReLU-conv3×3-ReLU-conv3×3, average-pooled if `downsample`), its shortcut
    on relu(x) (Mimicry's in-place ReLU), through a 1×1 convolution if it pools or changes width."""
    out_channels: int = 128
    downsample: bool = False
    spectral_norm: bool = True

    @nn.compact
    def __call__(self, x, *, train: bool):
        x = nn.relu(x)
        pool = avg_pool_2x if self.downsample else (lambda t: t)
        h = nn.relu(self.conv(x, x.shape[-1], 3, math.sqrt(2), "c1", train))
        h = pool(self.conv(h, self.out_channels, 3, math.sqrt(2), "c2", train))
        if self.downsample or x.shape[-1] != self.out_channels:
            x = pool(self.conv(x, self.out_channels, 1, 1.0, "c_sc", train))
        return h + x


class DBlockOptimized(_Layers):
    """Mimicry's first D block: conv3×3-ReLU-conv3×3-pool, shortcut conv1×1 of the pooled input."""
    out_channels: int = 128
    spectral_norm: bool = True

    @nn.compact
    def __call__(self, x, *, train: bool):
        h = nn.relu(self.conv(x, self.out_channels, 3, math.sqrt(2), "c1", train))
        h = avg_pool_2x(self.conv(h, self.out_channels, 3, math.sqrt(2), "c2", train))
        return h + self.conv(avg_pool_2x(x), self.out_channels, 1, 1.0, "c_sc", train)


class Generator(_Layers):
    """z [B, Z] (and labels [B] if conditional) -> images [B, R, R, channels] in [-1, 1].

    Parameter names follow Mimicry's: l1, block2, block3, ..., then b<n>, c<n>.
    """
    resolution: int = 32
    channels: int = 3
    ngf: int = 256
    num_classes: Optional[int] = None

    @nn.compact
    def __call__(self, z_BxZ, labels=None, *, train: bool):
        if self.num_classes:
            check_labels(labels, self.num_classes, f"{type(self).__name__} (cgan_pd)")
        arch = _ARCHS[self.resolution]
        bottom, widths = arch["bottom"], [int(self.ngf * w) for w in arch["g"]]
        x = nn.Dense(bottom * bottom * widths[0], kernel_init=_xavier(),
                     bias_init=_torch_bias(z_BxZ.shape[-1]), dtype=self.dtype, name="l1")(z_BxZ)
        x = x.reshape(-1, bottom, bottom, widths[0])
        block = functools.partial(GBlock, upsample=True, num_classes=self.num_classes,
                                  axis_name=self.axis_name, conv_impl=self.conv_impl,
                                  dtype=self.dtype)
        for i, width in enumerate(widths[1:]):
            x = block(out_channels=width, name=f"block{i + 2}")(x, labels, train=train)
        n = len(widths) + 1
        x = nn.relu(self.bn(f"b{n}", train)(x))
        return jnp.tanh(self.conv(x, self.channels, 3, 1.0, f"c{n}", train)).astype(jnp.float32)


class Discriminator(_Layers):
    """images [B, R, R, C] (and labels [B] if conditional) -> logits [B].

    Block names follow Mimicry's (block1, block2, ...); its final SN linear layer (l5 / l6) and
    class embedding (l_y) are `head/linear` and `head/embed`.
    """
    resolution: int = 32
    ndf: int = 128
    num_classes: Optional[int] = None
    spectral_norm: bool = True

    @nn.compact
    def __call__(self, x_BxHxWxC, labels=None, *, train: bool):
        if self.num_classes:
            check_labels(labels, self.num_classes, f"{type(self).__name__} (cgan_pd)")
        arch = _ARCHS[self.resolution]
        widths, down = [int(self.ndf * w) for w in arch["d"]], arch["d_down"]
        kw = dict(spectral_norm=self.spectral_norm, conv_impl=self.conv_impl, dtype=self.dtype)
        x = DBlockOptimized(out_channels=widths[0], name="block1", **kw)(x_BxHxWxC, train=train)
        for i, (width, downsample) in enumerate(zip(widths[1:], down)):
            x = DBlock(out_channels=width, downsample=downsample, name=f"block{i + 2}",
                       **kw)(x, train=train)
        # Global sum pooling, summed and projected in float32 (a bfloat16 sum drifts).
        h_BxF = nn.relu(x).sum(axis=(1, 2), dtype=jnp.float32)
        # cGAN-PD's head runs Mimicry's own spectral norm (jgan.nn.spectral_norm says why).
        return ProjectionHead(self.num_classes, self.spectral_norm,
                              sn_eval_power_iteration=bool(self.num_classes),
                              bias_init=_torch_bias(h_BxF.shape[-1]), name="head")(
            h_BxF, labels, train=train)


def _check(resolution: int, channels: int, conv_impl: str, precision: str) -> None:
    if resolution not in _ARCHS:
        raise ValueError(f"resnet GAN resolution {resolution} is not supported; expected one of "
                         f"{sorted(_ARCHS)}")
    if channels < 1:
        raise ValueError(f"channels={channels}; expected a positive number of image channels")
    precision_lib.check(precision, conv_impl)  # Bad names fail here, not inside a trace.


@models.register("sngan")
def sngan(resolution: int = 32, channels: int = 3, ngf: Optional[int] = None,
          ndf: Optional[int] = None, spectral_norm: bool = True, axis_name: Optional[str] = None,
          conv_impl: str = "auto", precision: str = "float32"):
    """SNGAN's ResNet G and D (Miyato et al. 2018) as Mimicry's `nets/sngan/sngan_{32,48,64}.py`.

    `ngf`, `ndf`: Mimicry's width knobs (default Mimicry's: 256/128 at 32 px, 512/1024 at 48,
    1024/1024 at 64); `spectral_norm=False` gives the same D without it.
    """
    return _pair(resolution, channels, ngf, ndf, spectral_norm, None, axis_name, conv_impl,
                 precision)


@models.register("cgan_pd")
def cgan_pd(num_classes: int = 10, resolution: int = 32, channels: int = 3,
            ngf: Optional[int] = None, ndf: Optional[int] = None, spectral_norm: bool = True,
            axis_name: Optional[str] = None, conv_impl: str = "auto", precision: str = "float32"):
    """cGAN with projection discriminator (Miyato & Koyama 2018) as Mimicry's
    `nets/cgan_pd/cgan_pd_32.py`: SNGAN's nets with conditional BatchNorm in G's blocks and an SN
    class embedding projected onto D's pooled features. Both players require labels [B]."""
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes={num_classes!r}; expected a positive integer")
    return _pair(resolution, channels, ngf, ndf, spectral_norm, num_classes, axis_name, conv_impl,
                 precision)


def _pair(resolution, channels, ngf, ndf, spectral_norm, num_classes, axis_name, conv_impl,
          precision):
    _check(resolution, channels, conv_impl, precision)
    default_ngf, default_ndf = _DEFAULT_WIDTHS[resolution]
    common = dict(resolution=resolution, num_classes=num_classes, conv_impl=conv_impl,
                  dtype=precision_lib.dtype(precision))
    return (Generator(channels=channels, ngf=ngf or default_ngf, axis_name=axis_name, **common),
            Discriminator(ndf=ndf or default_ndf, spectral_norm=spectral_norm, **common))
