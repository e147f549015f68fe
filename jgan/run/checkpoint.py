"""Orbax checkpoints of a whole run, exact resume, preemption, and generator-only restore.

A checkpoint `WORKDIR/checkpoints/<step>/` holds four items: `state` (every array of the
`GANState`, as a nested dict), `data` (the input iterator's state), `config` and `meta` (JSON).
Orbax writes each one to a temporary directory and renames it when complete, so a half-written
checkpoint is never taken for a good one.
"""
import json
import logging
import sys
import time
import warnings
from typing import Callable, Optional

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from etils import epath
from flax import serialization

import jgan
from jgan import state as state_lib
from jgan.run import config_diff, integrity, preemption, storage
from jgan.run.configs import default
from jgan.state import GANState

ITEMS = ("state", "data", "config", "meta")


def checkpoint_dir(workdir) -> epath.Path:
    """WORKDIR/checkpoints; a relative local workdir is made absolute, as Orbax requires."""
    path = epath.Path(workdir)
    return (path if "://" in str(workdir) else path.absolute()) / "checkpoints"


class Checkpointer:
    """Saves every `config.checkpoint_every` steps (asynchronously) and restores the latest.

    A checkpoint that cannot be read, or whose arrays or JSON items differ from the fingerprints
    its `meta` recorded (jgan.run.integrity), is set aside in WORKDIR/checkpoints_unreadable/
    with a warning and the one before it is used. A full disk ends in `storage.DiskFull` naming
    the step and the directory; the checkpoints already complete stay as they are.
    """

    def __init__(self, workdir, config, lock=None):
        self.config, self.every, self.lock = config, config.checkpoint_every, lock
        keep_every = config.checkpoint.get("keep_every", 0)
        options = ocp.CheckpointManagerOptions(
            max_to_keep=config.checkpoint.max_to_keep, keep_period=keep_every or None,
            enable_async_checkpointing=True, cleanup_tmp_directories=True)
        self.directory = checkpoint_dir(workdir)
        with storage.naming(self.directory, "opening the checkpoints in"):
            self.manager = ocp.CheckpointManager(self.directory, options=options,
                                                 item_handlers=_handlers())
        self._saving = None  # The step of the save in flight, if any.
        self._previous_handler = None
        self._unquiet = _quiet_failed_saves()
        if jax.process_count() == 1:
            self._previous_handler = preemption.catch()

    def restore_latest(self, template: GANState, check_config: Optional[Callable] = None):
        """(state, data_state) from the newest good checkpoint; (template, None) if none.

        `check_config(saved_config: dict, step)` may refuse the config the checkpoint was saved
        with (it raises). A checkpoint whose shapes differ from `template` raises.
        """
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                items = self.manager.restore(step, args=ocp.args.Composite(
                    config=ocp.args.JsonRestore(), meta=ocp.args.JsonRestore()))
                integrity.verify_json(items.meta, step, items.config)
            except Exception as e:  # noqa: BLE001 — corruption surfaces as many error types.
                self._set_aside(step, e)
                continue
            if check_config is not None:
                check_config(items.config, step)
            check_compatible(self.manager, step, template)
            target = _abstract(template)
            try:
                target = _saved_part(target, self.manager.item_metadata(step)["state"])
                restored = self.manager.restore(step, args=ocp.args.Composite(
                    state=ocp.args.PyTreeRestore(
                        target, restore_args=ocp.checkpoint_utils.construct_restore_args(target)),
                    data=ocp.args.JsonRestore()))
                integrity.verify_state(items.meta, restored.state, restored.data)
            except Exception as e:  # noqa: BLE001
                self._set_aside(step, e)
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
        if self.lock is not None:
            self.lock.check()
        config = json.loads(self.config.to_json())
        state_dict = serialization.to_state_dict(state)
        meta = {"step": int(step), "jgan_version": jgan.__version__,
                "device_count": jax.device_count(), "process_count": jax.process_count(),
                **integrity.record(state_dict, data_state, config)}
        self.wait()  # Orbax waits for the previous save anyway; this names its step on failure.
        self._saving = step
        with self._naming_disk_full():
            self.manager.save(step, force=True, args=ocp.args.Composite(
                state=ocp.args.PyTreeSave(state_dict), data=ocp.args.JsonSave(data_state),
                config=ocp.args.JsonSave(config), meta=ocp.args.JsonSave(meta)))

    def preemption_requested(self, step: int) -> bool:
        """True once SIGTERM was received (one process) or all hosts reach the preemption point."""
        if jax.process_count() > 1:
            return self.manager.reached_preemption(step)
        return preemption.REQUESTED.is_set()

    def wait(self) -> None:
        with self._naming_disk_full():
            self.manager.wait_until_finished()
        self._saving = None

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self.manager.close()
            self._unquiet()
            if jax.process_count() == 1:
                preemption.release(self._previous_handler)
                self._previous_handler = None

    def resume_hint(self) -> str:
        """What a user whose disk filled up can do: the checkpoint a rerun resumes from."""
        try:
            self.manager.wait_until_finished()  # A save in flight may yet complete.
        except Exception:  # noqa: BLE001 — its failure is the error this hint follows, or its own.
            pass
        self.manager.reload()
        done = self.manager.all_steps()
        return (f"the last complete checkpoint is step {max(done)}" if done else
                "no checkpoint is complete") + "; free space, then rerun to resume from it"

    def _naming_disk_full(self):
        return storage.naming(self.directory, f"saving checkpoint step {self._saving} in",
                              self.resume_hint)

    def _set_aside(self, step: int, error: Exception) -> None:
        """Moves an unreadable checkpoint out of the way (kept, not deleted), with a warning."""
        target = self.directory.parent / "checkpoints_unreadable" / str(step)
        if target.exists():
            target = target.with_name(f"{step}-{int(time.time())}")
        if jax.process_index() == 0:
            target.parent.mkdir(parents=True, exist_ok=True)
            (self.directory / str(step)).rename(target)
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils  # noqa: PLC0415
            multihost_utils.sync_global_devices(f"jgan set aside checkpoint {step}")
        self.manager.reload()
        warnings.warn(f"checkpoint step {step} in {self.directory} is unreadable "
                      f"({type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}); "
                      f"set aside in {target}; trying an older one")


def _quiet_failed_saves() -> Callable[[], None]:
    """Silences what a save failed for a full disk reports besides the Checkpointer's one
    `DiskFull`; returns the function that undoes it. Orbax's save threads each log the failure
    with a traceback, and TensorStore's callbacks onto the failed save's closed asyncio loop end
    as unraisable "Event loop is closed" errors: hundreds of lines on a real full tmpfs."""
    logging.getLogger("absl").addFilter(_drop_disk_full_reports)
    previous = sys.unraisablehook

    def hook(unraisable):
        error = unraisable.exc_value
        if not (isinstance(error, RuntimeError) and str(error) == "Event loop is closed"):
            previous(unraisable)

    sys.unraisablehook = hook

    def undo():
        logging.getLogger("absl").removeFilter(_drop_disk_full_reports)
        if sys.unraisablehook is hook:
            sys.unraisablehook = previous
    return undo


def _drop_disk_full_reports(record: logging.LogRecord) -> bool:
    """False for Orbax's log records of a full disk."""
    error = record.exc_info[1] if record.exc_info else None
    return not ((error is not None and storage.is_disk_full(error))
                or "No space left on device" in record.getMessage())


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
    """Raises if checkpoint `step` holds other arrays than `template` (another model or optimizer:
    not a corrupt checkpoint, so no older one is tried), or arrays of other shapes."""
    try:
        saved = manager.item_metadata(step)["state"]
    except Exception:  # noqa: BLE001 — unreadable metadata: let the restore report it.
        return
    if saved is None:
        return
    expected = dict(jax.tree_util.tree_flatten_with_path(serialization.to_state_dict(template))[0])
    saved_flat = dict(jax.tree_util.tree_flatten_with_path(saved)[0])
    missing = [path for path in expected if path not in saved_flat]
    extra = [path for path in saved_flat if path not in expected]
    if missing or extra:
        first = (f"lacks {integrity.path_name(missing[0])}" if missing else f"has {integrity.path_name(extra[0])}")
        raise ValueError(f"checkpoint step {step} does not fit this config: it {first} "
                         f"({len(missing)} tensors missing, {len(extra)} extra; another model or "
                         f"optimizer?)")
    for path, leaf in expected.items():
        have = saved_flat[path]
        if tuple(have.shape) != tuple(np.shape(leaf)):
            raise ValueError(f"checkpoint step {step} does not fit this model: parameter "
                             f"{integrity.path_name(path)} has shape {tuple(have.shape)} in the checkpoint and "
                             f"{tuple(np.shape(leaf))} in the config")


def read_only_manager(workdir) -> ocp.CheckpointManager:
    """An Orbax manager that reads WORKDIR/checkpoints and never writes; close it after use."""
    directory = checkpoint_dir(workdir)
    if not directory.exists() or not [p for p in directory.iterdir() if p.name.isdigit()]:
        raise FileNotFoundError(f"no checkpoint in {directory}")
    # The options Orbax would otherwise warn that it sets for a read-only manager, and its own
    # "read only" warning filtered: reading a run is no news to a user who samples from it.
    options = ocp.CheckpointManagerOptions(read_only=True, save_interval_steps=0, create=False)
    absl_logger = logging.getLogger("absl")
    absl_logger.addFilter(_drop_read_only_notice)
    try:
        return ocp.CheckpointManager(directory, item_handlers=_handlers(), options=options)
    finally:
        absl_logger.removeFilter(_drop_read_only_notice)


def _drop_read_only_notice(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Given directory is read only")


def load_generator(workdir, step: Optional[int] = None, ema: bool = True):
    """(G, variables, config) of a checkpoint, restoring only the generator's arrays.

    Neither the discriminator, the optimizer states nor the dataset are read. `ema=False` gives
    the raw G instead of its moving average. `step` defaults to the latest checkpoint.
    """
    manager = read_only_manager(workdir)
    try:
        step = manager.latest_step() if step is None else step
        if step not in manager.all_steps():
            raise FileNotFoundError(f"no checkpoint for step {step} in {manager.directory}; "
                                    f"available: {sorted(manager.all_steps())}")
        where = f"checkpoint step {step} in {manager.directory}"
        try:
            items = manager.restore(step, args=ocp.args.Composite(
                config=ocp.args.JsonRestore(), meta=ocp.args.JsonRestore()))
            integrity.verify_json(items.meta, step, items.config)
            wanted = _generator_subtree(manager.item_metadata(step)["state"], ema)
            state = manager.restore(step, args=ocp.args.Composite(state=ocp.args.PyTreeRestore(
                item=wanted, restore_args=jax.tree.map(
                    lambda _: ocp.RestoreArgs(restore_type=np.ndarray), wanted),
                partial_restore=True))).state
            integrity.verify_state(items.meta, state, partial=True)
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"{where} is corrupt or unreadable: {type(e).__name__}: "
                             f"{str(e).splitlines()[0][:200] if str(e) else ''}") from None
    finally:
        manager.close()
    config = _trusted_config(items.config, where)
    try:
        G, _ = jgan.models.from_config(config.model)  # At the precision it was trained in.
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    g = state.get("g", {})
    params, batch_stats, collections = (
        (state["g_ema_params"], state.get("g_ema_batch_stats"), state.get("g_ema_collections"))
        if ema else (g["params"], g.get("batch_stats"), g.get("collections")))
    return G, state_lib.variables(params, batch_stats or {}, collections), config


def _trusted_config(saved, where: str) -> ml_collections.ConfigDict:
    """The saved config (plain JSON, never code) if every key is one jgan knows."""
    schema = json.loads(default.get_config().to_json())
    unknown = config_diff.unknown_keys(saved, schema) if isinstance(saved, dict) else ["(not a dict)"]
    if unknown:
        raise ValueError(f"{where}: its config has unknown key {unknown[0]!r}; expected the keys "
                         f"of jgan's default config (jgan/run/configs/default.py)")
    return ml_collections.ConfigDict(saved)


def _generator_subtree(metadata, ema: bool) -> dict:
    """The part of the saved state tree that sampling needs, as restore targets."""
    as_target = lambda tree: jax.tree.map(lambda m: np.zeros(m.shape, m.dtype), tree)
    if ema:
        return {k: as_target(metadata[k]) for k in ("g_ema_params", "g_ema_batch_stats",
                                                    "g_ema_collections")
                if metadata.get(k) is not None}
    return {"g": {k: as_target(metadata["g"][k]) for k in ("params", "batch_stats", "collections")
                  if metadata["g"].get(k) is not None}}
