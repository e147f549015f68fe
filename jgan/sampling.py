"""Drawing images from a trained generator: samples, class rows, latent interpolations."""
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

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
    return decode(apply_fn, g_vars, jax.random.normal(rng, (num, z_dim)), labels)


def decode(apply_fn, g_vars: dict, z_BxZ: jax.Array, labels: Optional[jax.Array] = None):
    """G(z) for given z [B, Z] (and labels [B]), in inference mode."""
    if labels is not None:
        labels = jnp.asarray(labels, jnp.int32)
        if labels.shape != (z_BxZ.shape[0],):
            raise ValueError(f"labels have shape {labels.shape}; expected ({z_BxZ.shape[0]},)")
    return apply_fn(g_vars, z_BxZ, labels, train=False)


def class_rows(num_classes: int, per_class: int) -> np.ndarray:
    """Labels [num_classes * per_class] for a grid of `per_class` columns, one class per row."""
    return np.repeat(np.arange(num_classes, dtype=np.int32), per_class)


def class_seed_grid(rng: jax.Array, num_classes: int, seeds: int, z_dim: int):
    """(z [C·S, Z], labels [C·S]) for a class × seed grid: row c draws class c, and every row
    reuses the same `seeds` z, so a column shows one z through all classes."""
    z_SxZ = jax.random.normal(rng, (seeds, z_dim))
    return jnp.tile(z_SxZ, (num_classes, 1)), class_rows(num_classes, seeds)


def slerp(z0_Z: jax.Array, z1_Z: jax.Array, t_T: jax.Array) -> jax.Array:
    """Points [T, Z] from z0 (t = 0) to z1 (t = 1): the direction moves along the great circle
    (Shoemake's slerp; White 2016 on why for Gaussian latents), the norm linearly."""
    t_Tx1 = jnp.asarray(t_T, jnp.float32)[:, None]
    r0, r1 = jnp.linalg.norm(z0_Z), jnp.linalg.norm(z1_Z)
    u0, u1 = z0_Z / r0, z1_Z / r1
    omega = jnp.arccos(jnp.clip(jnp.dot(u0, u1), -1.0, 1.0))
    sin_omega = jnp.sin(omega)
    # Nearly parallel directions: the limit of slerp is the linear path.
    safe = sin_omega > 1e-6
    w0 = jnp.where(safe, jnp.sin((1 - t_Tx1) * omega) / jnp.where(safe, sin_omega, 1.0), 1 - t_Tx1)
    w1 = jnp.where(safe, jnp.sin(t_Tx1 * omega) / jnp.where(safe, sin_omega, 1.0), t_Tx1)
    direction = w0 * u0 + w1 * u1
    direction = direction / jnp.linalg.norm(direction, axis=-1, keepdims=True)
    return ((1 - t_Tx1) * r0 + t_Tx1 * r1) * direction


def interpolation_z(rng: jax.Array, rows: int, frames: int, z_dim: int) -> jax.Array:
    """z [rows · frames, Z]: each row a `slerp` strip of `frames` points between two random z."""
    if rows < 1 or frames < 2:
        raise ValueError(f"an interpolation needs rows >= 1 and frames >= 2; got rows={rows}, "
                         f"frames={frames}")
    z0_RxZ, z1_RxZ = jax.random.normal(rng, (2, rows, z_dim))
    strips = jax.vmap(slerp, in_axes=(0, 0, None))(z0_RxZ, z1_RxZ, jnp.linspace(0.0, 1.0, frames))
    return strips.reshape(rows * frames, z_dim)
