"""Data-parallel helpers for `jax.pmap`: replicating the state and splitting global batches."""
from typing import Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def check_divisible(global_batch: int, num_devices: int) -> None:
    if global_batch % num_devices:
        raise ValueError(f"global batch {global_batch} is not divisible by the device count "
                         f"{num_devices}")


def shard_batch(batch: dict, num_devices: Optional[int] = None, *, axis: int = 0) -> dict:
    """Reshapes each array's `axis` (the global batch) into [num_devices, batch / num_devices].

    For `jax.pmap`: the leading axis of the result indexes devices. With `n_critic > 1` batches
    ([n_critic, B, ...]) pass `axis=1`; the device axis still comes first.
    """
    num_devices = num_devices or jax.local_device_count()

    def split(x):
        x = np.asarray(x)
        check_divisible(x.shape[axis], num_devices)
        x = x.reshape(*x.shape[:axis], num_devices, x.shape[axis] // num_devices,
                      *x.shape[axis + 1:])
        return np.moveaxis(x, axis, 0)

    return jax.tree.map(split, batch)


def replicate(tree, devices: Optional[Sequence[jax.Device]] = None, axis_name: str = "batch"):
    """Copies `tree` to every (local) device along a new leading axis, for `jax.pmap`.

    `axis_name` is the pmap's: its outputs are sharded over a mesh axis of that name, and inputs
    sharded the same way let step 2 reuse step 1's compiled program instead of compiling again.
    """
    devices = list(devices or jax.local_devices())
    sharding = NamedSharding(Mesh(np.array(devices), (axis_name,)), P(axis_name))
    return jax.tree.map(
        lambda x: jax.device_put(jnp.broadcast_to(x, (len(devices), *jnp.shape(x))), sharding), tree)


def unreplicate(tree):
    """This process's first device's copy of a replicated tree (works across hosts too)."""
    return jax.tree.map(lambda x: x.addressable_data(0)[0] if isinstance(x, jax.Array) else x[0],
                        tree)
