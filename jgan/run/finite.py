"""Which tensors of the state are not finite, by name: what a NaN stop reports.

The step is wrapped to also return one flag per floating-point tensor of its *input* state, so the
loss check that stops a run can name the tensors that were already NaN or Inf when the step began.
"""
import jax
import jax.numpy as jnp
import numpy as np

from jgan.run.integrity import path_name

FLAGS = "finite_tensors"  # The metrics key of the flags; never logged.


def watched(state) -> dict:
    """Every floating-point tensor of the state: the players' parameters, batch statistics and
    optimizer states, and the G-EMA."""
    player = lambda p: {"params": p.params, "batch_stats": p.batch_stats, "opt_state": p.opt_state}
    tree = {"g": player(state.g), "d": player(state.d), "g_ema_params": state.g_ema_params,
            "g_ema_batch_stats": state.g_ema_batch_stats}
    return jax.tree.map(lambda x: x if jnp.issubdtype(x.dtype, jnp.inexact) else None, tree)


def names(state) -> list[str]:
    return [path_name(p) for p, _ in jax.tree_util.tree_flatten_with_path(watched(state))[0]]


def flags(state) -> jax.Array:
    """bool[len(names(state))]: True where a watched tensor is all finite (traceable)."""
    return jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(watched(state))])


def with_flags(step_fn):
    """`step_fn` that also reports `flags` of the state it was given."""
    def step(state, batch):
        new_state, metrics = step_fn(state, batch)
        return new_state, {**metrics, FLAGS: flags(state)}
    return step


def bad(tensor_names: list[str], flags_value) -> list[str]:
    """The names whose flag is False (the first copy of pmap's per-device flags)."""
    ok = np.asarray(flags_value).reshape(-1, len(tensor_names))[0]
    return [name for name, good in zip(tensor_names, ok) if not good]


def listing(bad_names: list[str], most: int = 3) -> str:
    """The first `most` names, parameters before statistics before optimizer states."""
    rank = lambda name: next((i for i, part in enumerate(("/params/", "batch_stats", "g_ema_"))
                              if part in name), 3)
    ordered = sorted(bad_names, key=rank)
    more = f" (and {len(ordered) - most} more)" if len(ordered) > most else ""
    return ", ".join(ordered[:most]) + more


_all_flags = jax.jit(flags)


def check_state(state, step: int) -> None:
    """Raises FloatingPointError naming the non-finite tensors; a checkpoint must hold none."""
    found = bad(names(state), _all_flags(state))
    if found:
        raise FloatingPointError(f"non-finite parameters at step {step}; not saved: "
                                 f"{listing(found)}")
