"""Drawing images from a trained generator."""
from typing import Optional

import jax
import jax.numpy as jnp

from jgan.state import GANState, variables


def sample(state: GANState, rng: jax.Array, num: int = 64, labels: Optional[jax.Array] = None,
           *, ema: bool = True) -> jax.Array:
    """Draws `num` images in [-1, 1] from G in inference mode.

    Uses the G-EMA parameters (and G's batch statistics and other collections) unless `ema=False`. `labels` [num] selects
    classes for a class-conditional G.
    """
    if ema:
        g_vars = variables(state.g_ema_params, state.g_ema_batch_stats, state.g_ema_collections)
    else:
        g_vars = variables(state.g.params, state.g.batch_stats, state.g.collections)
    return generate(state.g.apply_fn, g_vars, rng, num, state.z_dim, labels)


def generate(apply_fn, g_vars: dict, rng: jax.Array, num: int, z_dim: int,
             labels: Optional[jax.Array] = None) -> jax.Array:
    """G(z) for z ~ N(0, I) of shape [num, z_dim], in inference mode."""
    if labels is not None:
        labels = jnp.asarray(labels, jnp.int32)
        if labels.shape != (num,):
            raise ValueError(f"labels have shape {labels.shape}; expected ({num},)")
    z_BxZ = jax.random.normal(rng, (num, z_dim))
    return apply_fn(g_vars, z_BxZ, labels, train=False)
