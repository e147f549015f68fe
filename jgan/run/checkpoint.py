"""Orbax checkpoints of a whole run, exact resume, preemption, and generator-only restore.

A checkpoint `WORKDIR/checkpoints/<step>/` holds four items: `state` (every array of the
`GANState`, as a nested dict), `data` (the input iterator's state), `config` and `meta` (JSON).
Orbax writes each one to a temporary directory and renames it when complete, so a half-written
checkpoint is never taken for a good one.
"""
import json
import signal
import threading
import warnings
from typing import Optional

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from etils import epath
from flax import serialization

import jgan
from jgan import state as state_lib
from jgan.state import GANState

ITEMS = ("state", "data", "config", "meta")


def checkpoint_dir(workdir) -> epath.Path:
    """WORKDIR/checkpoints; a relative local workdir is made absolute, as Orbax requires."""
    path = epath.Path(workdir)
    return (path if "://" in str(workdir) else path.absolute()) / "checkpoints"


class Checkpointer:
    """Saves every `config.checkpoint_every` steps (asynchronously) and restores the latest."""

    def __init__(self, workdir, config):
        self.config, self.every = config, config.checkpoint_every
        keep_every = config.checkpoint.get("keep_every", 0)
        options = ocp.CheckpointManagerOptions(
            max_to_keep=config.checkpoint.max_to_keep, keep_period=keep_every or None,
            enable_async_checkpointing=True, cleanup_tmp_directories=True)
        self.directory = checkpoint_dir(workdir)
        self.manager = ocp.CheckpointManager(self.directory, options=options,
                                             item_handlers=_handlers())
        self._sigterm = threading.Event()
        self._previous_handler = None
        if jax.process_count() == 1 and threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGTERM, lambda *_: self._sigterm.set())

    def restore_latest(self, template: GANState):
        """(state, data_state) from the newest readable checkpoint; (template, None) if none.

        A checkpoint that cannot be read (truncated or missing files) is skipped with a warning
        and the one before it is tried. A checkpoint whose shapes differ from `template` raises.
        """
        for step in sorted(self.manager.all_steps(), reverse=True):
            check_compatible(self.manager, step, template)
            target = _abstract(template)
            try:
                target = _saved_part(target, self.manager.item_metadata(step)["state"])
                restored = self.manager.restore(step, args=ocp.args.Composite(
                    state=ocp.args.PyTreeRestore(
                        target, restore_args=ocp.checkpoint_utils.construct_restore_args(target)),
                    data=ocp.args.JsonRestore()))
            except Exception as e:  # noqa: BLE001 — corruption surfaces as many error types.
                warnings.warn(f"checkpoint step {step} in {self.directory} is unreadable "
                              f"({type(e).__name__}: {str(e).splitlines()[0][:200]}); trying an "
                              f"older one")
                continue
            state = serialization.from_state_dict(
                template, _with_template(restored.state, serialization.to_state_dict(template)))
            return state, restored.data
        return template, None

    def save(self, step: int, state: GANState, data_state, force: bool = False) -> None:
        """Starts an asynchronous save of step `step` (when due, or always with `force`)."""
        if not force and step % self.every:
            return
        if step in self.manager.all_steps():
            return
        meta = {"step": int(step), "jgan_version": jgan.__version__,
                "device_count": jax.device_count(), "process_count": jax.process_count()}
        self.manager.save(step, force=True, args=ocp.args.Composite(
            state=ocp.args.PyTreeSave(serialization.to_state_dict(state)),
            data=ocp.args.JsonSave(data_state),
            config=ocp.args.JsonSave(json.loads(self.config.to_json())),
            meta=ocp.args.JsonSave(meta)))

    def preemption_requested(self, step: int) -> bool:
        """True once SIGTERM was received (one process) or all hosts reach the preemption point."""
        if jax.process_count() > 1:
            return self.manager.reached_preemption(step)
        return self._sigterm.is_set()

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
            self._previous_handler = None


def _handlers() -> dict:
    return {"state": ocp.PyTreeCheckpointHandler(), "data": ocp.JsonCheckpointHandler(),
            "config": ocp.JsonCheckpointHandler(), "meta": ocp.JsonCheckpointHandler()}


def _abstract(template):
    return jax.tree.map(ocp.utils.to_shape_dtype_struct, serialization.to_state_dict(template))


def _saved_part(target, saved):
    """`target` without the entries a checkpoint lacks that hold no arrays: fields added to the
    state since it was written, such as a model's empty `collections`."""
    if not isinstance(target, dict) or not hasattr(saved, "keys"):  # Orbax's own mapping type.
        return target
    keys = set(saved.keys())
    return {k: _saved_part(v, saved[k]) if k in keys else v for k, v in target.items()
            if k in keys or jax.tree.leaves(v)}


def _with_template(restored, template):
    """`restored` with the entries `_saved_part` left out taken from `template`."""
    if not isinstance(template, dict):
        return restored
    return {k: _with_template(restored[k], v) if k in restored else v for k, v in template.items()}


def check_compatible(manager, step: int, template: GANState) -> None:
    """Raises if checkpoint `step` holds arrays whose shapes differ from `template`'s."""
    try:
        saved = manager.item_metadata(step)["state"]
    except Exception:  # noqa: BLE001 — unreadable metadata: let the restore report it.
        return
    if saved is None:
        return
    expected = serialization.to_state_dict(template)
    saved_flat = dict(jax.tree_util.tree_flatten_with_path(saved)[0])
    for path, leaf in jax.tree_util.tree_flatten_with_path(expected)[0]:
        have = saved_flat.get(path)
        if have is not None and tuple(have.shape) != tuple(np.shape(leaf)):
            raise ValueError(f"checkpoint step {step} does not fit this model: parameter "
                             f"{_name(path)} has shape {tuple(have.shape)} in the checkpoint and "
                             f"{tuple(np.shape(leaf))} in the config")


def _name(path) -> str:
    return "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)


def _read_only_manager(workdir):
    directory = checkpoint_dir(workdir)
    if not directory.exists() or not [p for p in directory.iterdir() if p.name.isdigit()]:
        raise FileNotFoundError(f"no checkpoint in {directory}")
    return ocp.CheckpointManager(directory, item_handlers=_handlers(),
                                 options=ocp.CheckpointManagerOptions(read_only=True))


def load_generator(workdir, step: Optional[int] = None, ema: bool = True):
    """(G, variables, config) of a checkpoint, restoring only the generator's arrays.

    Neither the discriminator, the optimizer states nor the dataset are read. `ema=False` gives
    the raw G instead of its moving average. `step` defaults to the latest checkpoint.
    """
    manager = _read_only_manager(workdir)
    try:
        step = manager.latest_step() if step is None else step
        if step not in manager.all_steps():
            raise FileNotFoundError(f"no checkpoint for step {step} in {manager.directory}; "
                                    f"available: {sorted(manager.all_steps())}")
        try:
            restored = manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))
            config = ml_collections.ConfigDict(restored.config)
            wanted = _generator_subtree(manager.item_metadata(step)["state"], ema)
            state = manager.restore(step, args=ocp.args.Composite(state=ocp.args.PyTreeRestore(
                item=wanted, restore_args=jax.tree.map(
                    lambda _: ocp.RestoreArgs(restore_type=np.ndarray), wanted),
                partial_restore=True))).state
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"checkpoint step {step} in {manager.directory} is corrupt or "
                             f"unreadable: {type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
    finally:
        manager.close()
    G, _ = jgan.models.get(config.model.name, **config.model.kwargs)
    g = state.get("g", {})
    params, batch_stats, collections = (
        (state["g_ema_params"], state.get("g_ema_batch_stats"), state.get("g_ema_collections"))
        if ema else (g["params"], g.get("batch_stats"), g.get("collections")))
    return G, state_lib.variables(params, batch_stats or {}, collections), config


def _generator_subtree(metadata, ema: bool) -> dict:
    """The part of the saved state tree that sampling needs, as restore targets."""
    as_target = lambda tree: jax.tree.map(lambda m: np.zeros(m.shape, m.dtype), tree)
    if ema:
        return {k: as_target(metadata[k]) for k in ("g_ema_params", "g_ema_batch_stats",
                                                    "g_ema_collections")
                if metadata.get(k) is not None}
    return {"g": {k: as_target(metadata["g"][k]) for k in ("params", "batch_stats", "collections")
                  if metadata["g"].get(k) is not None}}
