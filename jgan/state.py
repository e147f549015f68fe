"""The game's state: one pytree holding both players, the G-EMA and the RNG."""
import functools
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct
from flax.training import train_state

from jgan import regularizers as regularizers_lib
from jgan.backend import compiler_options


class TrainState(train_state.TrainState):
    """An optax TrainState that also carries the module's other variable collections.

    `batch_stats` is BatchNorm's; `collections` holds every other one by name, e.g.
    {"spectral_norm": ...} (`jgan.nn.SpectralNorm`'s u, v). They are two fields so that models
    without other collections keep the checkpoint names they always had.
    """
    batch_stats: Any = None
    collections: Any = None

    @property
    def state_vars(self) -> dict:
        """Every non-parameter collection by name: what a training-mode pass may update."""
        return {"batch_stats": self.batch_stats, **(self.collections or {})}

    def replace_state_vars(self, state_vars: dict) -> "TrainState":
        others = {k: v for k, v in state_vars.items() if k != "batch_stats"}
        return self.replace(batch_stats=state_vars["batch_stats"], collections=others)


class GANState(struct.PyTreeNode):
    """Everything one training step reads and writes.

    `g` and `d` are the players' TrainStates (their `apply_fn` is the module's `apply`);
    `g_ema_params` is the exponential moving average of G's parameters, used for sampling;
    `g_ema_batch_stats` and `g_ema_collections` are copies of G's own `batch_stats` and other
    collections at the last step (BatchNorm's running statistics, themselves averages, and
    spectral norm's vectors; not averaged again); `rng` is the run's base key (raw uint32 key
    data, so the state is plain arrays for checkpoints and sharding), from which every step
    derives its own with `fold_in`; `reg_state` holds the stateful regularisers' states by name
    (`jgan.regularizers`, e.g. LeCam's EMAs; {} without them, as in checkpoints that predate it).
    """
    step: jax.Array
    g: TrainState
    d: TrainState
    g_ema_params: Any
    g_ema_batch_stats: Any
    g_ema_collections: Any
    rng: jax.Array
    z_dim: int = struct.field(pytree_node=False)
    image_shape: tuple[int, ...] = struct.field(pytree_node=False)
    reg_state: Any = struct.field(default_factory=dict)


def create_state(rng: jax.Array, G: nn.Module, D: nn.Module, g_tx: optax.GradientTransformation,
                 d_tx: optax.GradientTransformation, *, z_dim: int, image_shape: Sequence[int],
                 num_classes: Optional[int] = None, regularizers: Sequence = ()) -> GANState:
    """Initialises both players from shapes alone (no data needed).

    Args:
      rng: the run's base key; parameter init and every training step derive keys from it.
      G, D: linen modules following the protocol in `jgan.models`.
      g_tx, d_tx: the players' optax optimizers.
      z_dim: latent size; image_shape: one example's shape, e.g. (28, 28, 1).
      num_classes: for class-conditional modules (default: the modules' `num_classes`, if any).
      regularizers: the training step's `jgan.regularizers`; the stateful ones' initial states
        become `reg_state`.
    """
    image_shape = tuple(int(s) for s in image_shape)
    num_classes = num_classes or getattr(G, "num_classes", None)
    if not jnp.issubdtype(rng.dtype, jax.dtypes.prng_key):
        rng = jax.random.wrap_key_data(rng)
    init = functools.partial(_init, G=G, D=D, g_tx=g_tx, d_tx=d_tx, z_dim=int(z_dim),
                             image_shape=image_shape, num_classes=num_classes,
                             regularizers=tuple(regularizers))
    # One compiled program: op by op, every initializer would compile on its own, for seconds.
    return jax.jit(init, compiler_options=compiler_options())(rng)


def _init(rng, *, G, D, g_tx, d_tx, z_dim, image_shape, num_classes, regularizers) -> GANState:
    labels_B = jnp.zeros((1,), jnp.int32) if num_classes else None
    g_key, d_key, run_key = jax.random.split(rng, 3)
    g_vars = G.init(g_key, jnp.zeros((1, z_dim)), labels_B, train=False)
    d_batch = getattr(D, "pack", 1)  # A packed D (jgan.models.Packed) needs one whole pack.
    d_labels = None if labels_B is None else jnp.zeros((d_batch,), jnp.int32)
    d_vars = D.init(d_key, jnp.zeros((d_batch, *image_shape)), d_labels, train=False)
    # Array step counters (not Python ints) keep the pytree's types fixed: no retrace at step 2.
    g, d = (TrainState.create(apply_fn=module.apply, params=module_vars["params"], tx=tx,
                              batch_stats=module_vars.get("batch_stats", {}),
                              collections=_other_collections(module_vars))
            .replace(step=jnp.zeros((), jnp.int32))
            for module, module_vars, tx in ((G, g_vars, g_tx), (D, d_vars, d_tx)))
    # The EMA starts as a copy (a separate output buffer): sharing buffers with `g` would break
    # buffer donation.
    copy = functools.partial(jax.tree.map, jnp.copy)
    return GANState(step=jnp.zeros((), jnp.int32), g=g, d=d, g_ema_params=copy(g.params),
                    g_ema_batch_stats=copy(g.batch_stats), g_ema_collections=copy(g.collections),
                    rng=jax.random.key_data(run_key),
                    z_dim=z_dim, image_shape=image_shape,
                    reg_state=regularizers_lib.init_state(regularizers))


def _other_collections(module_vars) -> dict:
    return {k: v for k, v in module_vars.items() if k not in ("params", "batch_stats")}


def variables(params, batch_stats, collections: Optional[dict] = None) -> dict:
    """The `apply` variables dict; empty collections are left out (modules without BatchNorm get
    no `batch_stats` entry)."""
    others = {"batch_stats": batch_stats, **(collections or {})}
    return {"params": params, **{k: v for k, v in others.items() if v}}
