"""Adversarial losses: a registry of pure functions on discriminator logits.

Each entry is a `Loss(d, g)` pair: `d(real_logits_B, fake_logits_B) -> scalar` is minimised by D and
`g(fake_logits_B) -> scalar` by G. Logits are raw D outputs (no sigmoid applied).
"""
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp


class Loss(NamedTuple):
    d: Callable[[jax.Array, jax.Array], jax.Array]
    g: Callable[[jax.Array], jax.Array]


_LOSSES: dict[str, Loss] = {}


def register(name: str):
    """Decorator: registers a function returning a `Loss` under `name`."""
    def wrap(fn):
        _LOSSES[name] = fn()
        return fn
    return wrap


def get(loss: "str | Loss") -> Loss:
    """Returns the `Loss` named `loss`; a `Loss` (or (d, g) pair) passes through."""
    if isinstance(loss, str):
        if loss not in _LOSSES:
            raise ValueError(f"unknown loss {loss!r}; expected one of {sorted(_LOSSES)}")
        return _LOSSES[loss]
    d, g = loss
    return Loss(d, g)


def names() -> list[str]:
    return sorted(_LOSSES)


def _bce_d(real_logits, fake_logits):
    # -log σ(r) - log(1 - σ(f)), written with softplus for numerical stability.
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


@register("minimax")
def _minimax():
    # G minimises log(1 - σ(f)) = -softplus(f): the original, saturating game of Goodfellow et al.
    return Loss(_bce_d, lambda fake_logits: -jnp.mean(jax.nn.softplus(fake_logits)))


@register("non_saturating")
def _non_saturating():
    # G maximises log σ(f) instead: the same fixed point with strong gradients early on.
    return Loss(_bce_d, lambda fake_logits: jnp.mean(jax.nn.softplus(-fake_logits)))


@register("hinge")
def _hinge():
    def d(real_logits, fake_logits):
        return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))
    return Loss(d, lambda fake_logits: -jnp.mean(fake_logits))


@register("wasserstein")
def _wasserstein():
    # The critic's Lipschitz constraint comes from a penalty (gp_weight) or from the model.
    return Loss(lambda real_logits, fake_logits: jnp.mean(fake_logits) - jnp.mean(real_logits),
                            lambda fake_logits: -jnp.mean(fake_logits))


@register("least_squares")
def _least_squares():
    # LSGAN with targets a=0 (fake), b=1 (real), c=1 (what G wants D to say).
    def d(real_logits, fake_logits):
        return 0.5 * jnp.mean((real_logits - 1.0) ** 2) + 0.5 * jnp.mean(fake_logits ** 2)
    return Loss(d, lambda fake_logits: 0.5 * jnp.mean((fake_logits - 1.0) ** 2))
