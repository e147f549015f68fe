"""Adversarial losses: a registry of pure functions on discriminator logits.

Each entry is a `Loss(d, g)` pair: `d(real_logits_B, fake_logits_B) -> scalar` is minimised by D and
`g(fake_logits_B) -> scalar` by G. Logits are raw D outputs (no sigmoid applied).
"""
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jgan.registry import Registry


class Loss(NamedTuple):
    d: Callable[[jax.Array, jax.Array], jax.Array]
    g: Callable[[jax.Array], jax.Array]


LOSSES = Registry("loss")  # name -> Loss


def get(loss: "str | Loss") -> Loss:
    """Returns the `Loss` named `loss`; a `Loss` (or (d, g) pair) passes through."""
    if isinstance(loss, str):
        return LOSSES.get(loss)
    d, g = loss
    return Loss(d, g)


def names() -> list[str]:
    return LOSSES.names()


def _bce_d(real_logits, fake_logits):
    # -log σ(r) - log(1 - σ(f)), written with softplus for numerical stability.
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def _hinge_d(real_logits, fake_logits):
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def _least_squares_d(real_logits, fake_logits):
    # LSGAN with targets a=0 (fake), b=1 (real), c=1 (what G wants D to say).
    return 0.5 * jnp.mean((real_logits - 1.0) ** 2) + 0.5 * jnp.mean(fake_logits ** 2)


# G minimises log(1 - σ(f)) = -softplus(f): the original, saturating game of Goodfellow et al.
LOSSES.register("minimax", Loss(_bce_d, lambda fake_logits: -jnp.mean(jax.nn.softplus(fake_logits))))
# G maximises log σ(f) instead: the same fixed point with strong gradients early on.
LOSSES.register("non_saturating",
                Loss(_bce_d, lambda fake_logits: jnp.mean(jax.nn.softplus(-fake_logits))))
LOSSES.register("hinge", Loss(_hinge_d, lambda fake_logits: -jnp.mean(fake_logits)))
# The critic's Lipschitz constraint comes from a penalty (gp_weight) or from the model.
LOSSES.register("wasserstein", Loss(lambda real_logits, fake_logits: jnp.mean(fake_logits)
                                    - jnp.mean(real_logits),
                                    lambda fake_logits: -jnp.mean(fake_logits)))
LOSSES.register("least_squares", Loss(_least_squares_d,
                                      lambda fake_logits: 0.5 * jnp.mean((fake_logits - 1.0) ** 2)))
