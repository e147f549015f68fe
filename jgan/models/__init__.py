"""Model registry: `get(name, **kwargs) -> (G, D)`, a pair of Flax linen modules.

Every pair follows the module protocol the training step relies on:
  G(z_BxZ, labels=None, *, train) -> images in [-1, 1]
  D(x_BxHxWxC, labels=None, *, train) -> logits [B]
`get(name, pack=m)` wraps D in `Packed`: PacGAN's discriminator, which judges m samples at once.
Models with BatchNorm take `axis_name`: set it to the `jax.pmap` axis so batch statistics are
computed over the global batch (cross-device BatchNorm). Under `jax.jit` with sharded arrays the
batch is already global and `axis_name` stays None.
"""
import inspect
from typing import Optional

import flax.linen as nn
import jax.numpy as jnp

from jgan.registry import Registry

MODELS = Registry("model")  # name -> factory `fn(**kwargs) -> (G, D)`.
register = MODELS.register


def get(name: str, pack: int = 1, **kwargs) -> tuple[nn.Module, nn.Module]:
    """Returns the (G, D) pair registered as `name`, built with `kwargs`; D packed if `pack` > 1."""
    factory = MODELS.get(name)
    if not isinstance(pack, int) or pack < 1:
        raise ValueError(f"pack={pack!r}; expected a positive integer (samples per D input)")
    G, D = _build(name, factory, kwargs)
    return G, (D if pack == 1 else Packed(D, pack))


class Packed(nn.Module):
    """PacGAN (Lin et al. 2018): D sees `pack` samples at once, concatenated on the last axis.

    Packs are consecutive rows, so a batch of B gives B / pack logits: for real and fake alike
    every pack is all real or all fake, and D can penalise a G whose samples lack diversity.
    """
    D: nn.Module
    pack: int

    @nn.compact
    def __call__(self, x, labels=None, *, train: bool):
        if labels is not None:
            raise ValueError("a packed D is unconditional; got labels")
        if x.shape[0] % self.pack:
            raise ValueError(f"batch of {x.shape[0]} does not split into packs of {self.pack}")
        # [B, ..., C] -> [B/m, m, ..., C] -> [B/m, ..., m·C]: the m samples side by side per position.
        x = x.reshape(x.shape[0] // self.pack, self.pack, *x.shape[1:])
        x = jnp.moveaxis(x, 1, -2)
        return self.D(x.reshape(*x.shape[:-2], -1), train=train)


def from_config(cfg, axis_name: Optional[str] = None) -> tuple[nn.Module, nn.Module]:
    """(G, D) from a config's `model` section: `name`, `kwargs` and `precision` (float32 when
    absent, as in configs saved before it); `axis_name` makes BatchNorm cross-device under pmap."""
    kwargs = dict(cfg.kwargs)
    precision = cfg.get("precision", "float32")
    if precision != "float32":  # Only then, so models registered without `precision` still build.
        kwargs["precision"] = precision
    if axis_name is not None:
        kwargs["axis_name"] = axis_name
    return get(cfg.name, **kwargs)


def names() -> list[str]:
    return MODELS.names()


def _build(name: str, factory, kwargs: dict):
    """factory(**kwargs), with an unknown keyword named in one line."""

    params = inspect.signature(factory).parameters
    unknown = sorted(set(kwargs) - set(params))
    if unknown and not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        raise ValueError(f"model {name!r} takes no argument {unknown[0]!r}; expected some of "
                         f"{sorted(params)}")
    return factory(**kwargs)


# Imported for their registrations.
from jgan.models import dcgan, lucic, mlp2d, resnet, seed_dcgan  # noqa: E402,F401
