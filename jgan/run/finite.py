"""Which tensors of the state are not finite, by name: what a NaN stop reports.

The step is wrapped to also return one flag per watched tensor of its *input* state, so the loss
check that stops a run can name the tensors that were already NaN or Inf when the step began.
"""
import jax
import jax.numpy as jnp
import numpy as np

from jgan.run.integrity import path_name

FLAGS = "finite_tensors"  # The metrics key of the flags; never logged.


def watched(state) -> dict:
    """The players' parameters and batch statistics, and the G-EMA."""
    return {"g": {"params": state.g.params, "batch_stats": state.g.batch_stats},
            "d": {"params": state.d.params, "batch_stats": state.d.batch_stats},
            "g_ema_params": state.g_ema_params}


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
    more = f" (and {len(bad_names) - most} more)" if len(bad_names) > most else ""
    return ", ".join(bad_names[:most]) + more


_all_flags = jax.jit(flags)


def check_state(state, step: int) -> None:
    """Raises FloatingPointError naming the non-finite tensors; a checkpoint must hold none."""
    found = bad(names(state), _all_flags(state))
    if found:
        raise FloatingPointError(f"non-finite parameters at step {step}; not saved: "
                                 f"{listing(found)}")
