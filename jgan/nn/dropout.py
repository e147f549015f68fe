"""`Dropout` with Flax's fields and `dropout` RNG stream, and a cheaper mask.

Flax draws one Threefry hash per element, which JAX runs as a rolled loop of array passes on CPU;
here each unrolled hash gives four 16-bit draws, fused into the kernel that uses them
(`python experiments/benchmarks/compile_profile.py`; docs/cpu_performance.md). The masks are the
same on every backend.
"""
import math
from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


class Dropout(nn.Module):
    """`flax.linen.Dropout` (same fields, same `dropout` RNG stream). The keep probability is
    rounded to a multiple of 2⁻¹⁶ (off by < 8e-6) and kept values are scaled by its inverse, so
    E[output] = x exactly.
    """
    rate: float
    broadcast_dims: Sequence[int] = ()
    deterministic: Optional[bool] = None
    rng_collection: str = "dropout"

    @nn.compact
    def __call__(self, x, deterministic: Optional[bool] = None):
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"dropout rate {self.rate!r}; expected a number in [0, 1]")
        if nn.merge_param("deterministic", self.deterministic, deterministic) or self.rate == 0.0:
            return x
        threshold = round((1.0 - self.rate) * 2 ** 16)
        if threshold == 0:
            return jnp.zeros_like(x)
        shape = [1 if i in self.broadcast_dims else n for i, n in enumerate(x.shape)]
        draws = _uniform16(self.make_rng(self.rng_collection), shape)
        keep = jnp.broadcast_to(draws < threshold, x.shape)
        return jnp.where(keep, x * (2 ** 16 / threshold), jnp.zeros((), x.dtype))


def _uniform16(key, shape) -> jax.Array:
    """uint32 values uniform in [0, 2¹⁶), four per Threefry-2x32 hash of a counter."""
    n = math.prod(shape)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        data = jax.random.key_data(key)
        key = data if data.shape == (2,) else jax.random.bits(key, (2,), jnp.uint32)
    count = lax.iota(jnp.uint32, -(-n // 4))
    words = jnp.stack(threefry2x32(key[0], key[1], count, jnp.zeros_like(count)), -1)
    halves = jnp.stack([words & 0xFFFF, words >> 16], -1)
    return halves.reshape(-1)[:n].reshape(shape)


def threefry2x32(k0, k1, x0, x1):
    """The Threefry-2x32 hash (20 rounds; `jax.extend.random.threefry_2x32`'s), unrolled.

    JAX lowers its own as a rolled loop on CPU, one pass over the arrays per 4 rounds; unrolled,
    the rounds fuse into the kernel that uses the bits.
    """
    ks = (k0, k1, k0 ^ k1 ^ np.uint32(0x1BD11BDA))
    rotations = ((13, 15, 26, 6), (17, 29, 16, 24))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for i in range(5):
        for r in rotations[i % 2]:
            x0 = x0 + x1
            x1 = x0 ^ ((x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r)))
        x0, x1 = x0 + ks[(i + 1) % 3], x1 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x0, x1
