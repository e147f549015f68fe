"""Model registry: `get(name, **kwargs) -> (G, D)`, a pair of Flax linen modules.

Every pair follows the module protocol the training step relies on:
  G(z_BxZ, labels=None, *, train) -> images in [-1, 1]
  D(x_BxHxWxC, labels=None, *, train) -> logits [B]
Models with BatchNorm take `axis_name`: set it to the `jax.pmap` axis so batch statistics are
computed over the global batch (cross-device BatchNorm). Under `jax.jit` with sharded arrays the
batch is already global and `axis_name` stays None.
"""
from typing import Callable

import flax.linen as nn

_MODELS: dict[str, Callable[..., tuple[nn.Module, nn.Module]]] = {}


def register(name: str):
    """Decorator: registers a factory `fn(**kwargs) -> (G, D)` under `name`."""
    def wrap(fn):
        _MODELS[name] = fn
        return fn
    return wrap


def get(name: str, **kwargs) -> tuple[nn.Module, nn.Module]:
    """Returns the (G, D) pair registered as `name`, built with `kwargs`."""
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {names()}")
    return _MODELS[name](**kwargs)


def names() -> list[str]:
    return sorted(_MODELS)


# Imported for their registrations.
from jgan.models import dcgan, mlp2d, seed_dcgan  # noqa: E402,F401
