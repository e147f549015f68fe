"""The training run: `train_and_evaluate(config, workdir)`, behind `jgan train` and
experiments/train.py.

Sections: Lock / Parallel / Model / Input / Checkpoint / Loop. The loop dispatches step t before
it reads step t−1's metrics, so the device never waits for the host. docs/faults.md lists what a
run survives (kills, preemption, a full disk, corrupt checkpoints, NaNs, a second run).
"""
import contextlib
import json
import logging as std_logging
import math
import time
from typing import Optional

import jax
import numpy as np
import tqdm
from absl import logging

import jgan
from jgan import augment, data, optimizers, regularizers, sampling
from jgan.metrics import evaluate
from jgan.run import (checkpoint, config_diff, engine as engine_lib, faults, finite,
                      lock as lock_lib, plots, storage, writers)
from jgan.state import GANState


def create_state_from_config(config, axis_name: Optional[str] = None, key=None) -> GANState:
    """The step-0 state of `config`, from `key` (default: `config.seed`'s)."""
    G, D = jgan.models.from_config(config.model, axis_name)
    g_tx, d_tx = (optimizers.from_config(config.optimizer[player], config.num_steps, updates)
                  for player, updates in (("g", 1), ("d", config.loss.n_critic)))
    key = jax.random.key(config.seed) if key is None else key
    return jgan.create_state(key, G, D, g_tx, d_tx,
                             z_dim=config.model.z_dim, image_shape=tuple(config.model.image_shape),
                             num_classes=config.model.num_classes,
                             regularizers=regularizers.from_config(config.loss))


def make_step_fn(config, axis_name: Optional[str] = None):
    loss = config.loss
    ops = augment.policy(loss.get("augment", ""))
    if ops and len(config.model.image_shape) != 3:  # A config's ops are jgan's image ops.
        raise ValueError(f"config.loss.augment={loss.augment!r} needs images; "
                         f"config.model.image_shape is {tuple(config.model.image_shape)}")
    return jgan.make_train_step(
        loss.name, n_critic=loss.n_critic, regularizers=regularizers.from_config(loss),
        augment=ops, ema_decay=config.ema.decay, ema_start=config.ema.start,
        ema_rampup=config.ema.rampup,
        axis_name=axis_name)


def run(config, workdir, *, allow_config_change: bool = False, multihost: bool = False,
        coordinator: Optional[str] = None, num_processes: Optional[int] = None,
        process_id: Optional[int] = None, timeout_s: int = 120) -> GANState:
    """`jgan train`: process settings, joining a multi-process job if asked, then the run."""
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO level.
    # A failed Orbax save leaves futures nobody reads; asyncio would log each at exit, after
    # the one-line error that says what happened.
    std_logging.getLogger("asyncio").setLevel(std_logging.CRITICAL)
    # On CPU the steps run on the calling thread (jgan.cpu.configure says why). JAX reads this
    # when it creates its CPU client, so before any use; accelerators' clients ignore it.
    jax.config.update("jax_cpu_enable_async_dispatch", False)
    if multihost or coordinator:
        engine_lib.initialize_distributed(coordinator, num_processes, process_id, timeout_s)
    return train_and_evaluate(config, workdir, allow_config_change=allow_config_change)


def train_and_evaluate(config, workdir, *, allow_config_change: bool = False) -> GANState:
    """Trains `config` in `workdir`, resuming from its latest checkpoint; returns the final state.

    One run at a time holds `workdir` (jgan.run.lock). Resuming with a config that differs from
    the saved one other than in cadences and length is refused unless `allow_config_change`.
    """
    with contextlib.ExitStack() as cleanup:
        # ---------------------------------------------------------------- Lock
        lock = lock_lib.acquire_for_job(workdir)
        if lock is not None:
            cleanup.push(_first_error_wins(lock.release))
        # ---------------------------------------------------------------- Parallel
        engine = engine_lib.Engine(config.parallel.mode, config.batch_size, config.loss.n_critic)
        # ---------------------------------------------------------------- Model
        state = engine.put_state(create_state_from_config(config, engine.axis_name))
        step_fn = engine.compile(finite.with_flags(make_step_fn(config, engine.axis_name)))
        # ---------------------------------------------------------------- Input
        data_it = _make_input(config, engine)  # Bad data or metric names fail before any write.
        # ---------------------------------------------------------------- Checkpoint
        ckpt = checkpoint.Checkpointer(workdir, config, lock)
        cleanup.push(_first_error_wins(ckpt.close))
        state, data_state = _restore(config, workdir, engine, state, ckpt, allow_config_change)
        if data_state is not None:
            data_it.set_state(data_state)
        writer = writers.create(workdir, int(engine.local_state(state).step))
        cleanup.push(_first_error_wins(writer.close))
        # ---------------------------------------------------------------- Loop
        with storage.hinting(ckpt.resume_hint):  # A PNG or log line may fill the disk too.
            state = _loop(config, engine, step_fn, state, data_it, ckpt, writer)
    return engine.local_state(state)


def _first_error_wins(close):
    """An ExitStack exit that runs `close` and, if the run already failed, keeps that error."""
    def exit_(exc_type, exc, traceback):
        try:
            close()
        except Exception:  # noqa: BLE001
            if exc is None:
                raise
        return False
    return exit_


def _restore(config, workdir, engine, state, ckpt, allow_config_change):
    """(state, data_state) of the latest good checkpoint, its config checked; else (state, None)."""
    current = json.loads(config.to_json())

    def check_config(saved: dict, step: int) -> None:
        note = config_diff.check(saved, current, f"step {step} of {workdir}", allow_config_change)
        if note and jax.process_index() == 0:
            print(note, flush=True)

    restored, data_state = ckpt.restore_latest(engine.to_global(state), check_config)
    if data_state is None:
        return state, None
    if jax.process_index() == 0:
        print(f"jgan: resumed from checkpoint step {int(restored.step)} in {ckpt.directory}",
              flush=True)
    return engine.from_global(restored), data_state


def _make_input(config, engine):
    """The input iterator, after preparing a dataset jgan builds offline if it is missing; checks
    the metric names and weights too, so bad names fail before the checkpoint directory exists."""
    if config.dataset.name in data.prepare.PREPARERS:  # Built offline on first use.
        data.ensure_prepared(config.dataset.name, config.dataset.data_dir, config.dataset.source)
    data_it = data.make_iterator(
        config.dataset, batch_size=engine.process_batch * config.loss.n_critic,
        image_shape=tuple(config.model.image_shape), seed=config.seed,
        process_index=jax.process_index(), process_count=jax.process_count())
    if config.eval_every:  # Unknown metrics or missing feature weights fail now, not mid-run.
        evaluate.check_metrics(config, config.eval.metrics)
    return data_it


def _loop(config, engine, step_fn, state, data_it, ckpt, writer):
    """Runs steps until `config.num_steps` or a preemption request; returns the state."""
    start = int(engine.local_state(state).step)
    progress = tqdm.tqdm(total=config.num_steps, initial=start, disable=jax.process_index() != 0,
                         dynamic_ncols=True, desc="train")
    with progress:  # Closed before an error is reported, so the error is the last line.
        return _steps(config, engine, step_fn, state, data_it, ckpt, writer, progress, start)


def _steps(config, engine, step_fn, state, data_it, ckpt, writer, progress, start):
    log = _LogWindow(config, writer, progress, finite.names(engine.local_state(state)))
    pending = None  # (step, metrics) of the step dispatched last, not read yet.
    for step in range(start + 1, config.num_steps + 1):
        state, metrics = step_fn(state, engine.put_batch(_next_batch(config, data_it)))
        state = faults.poison(state, step)
        faults.at("step", step)
        if pending is not None:
            log.add(*pending)
        pending = (step, metrics)
        saving = step % config.checkpoint_every == 0 or step == config.num_steps
        preempted = ckpt.preemption_requested(step)
        if saving or preempted or step % config.sample_every == 0:
            log.add(*pending)  # Never save or show a state whose losses were not checked.
            pending = None
        if step % config.sample_every == 0 or step == config.num_steps:
            faults.at("samples", step)
            _write_samples(config, engine.local_state(state), step, writer)
        if config.eval_every and (step % config.eval_every == 0 or step == config.num_steps):
            faults.at("eval", step)
            _evaluate(config, engine.local_state(state), step, writer)
        if saving or preempted:
            finite.check_state(engine.local_state(state), step)
            writer.flush()  # Every event up to `step` is on disk before the checkpoint is.
            ckpt.save(step, engine.to_global(state), data_it.get_state(), force=True)
            faults.at("save", step)
        if preempted:
            print(f"jgan: preemption requested; saved step {step}, exiting", flush=True)
            break
    if pending is not None:
        log.add(*pending)
    ckpt.wait()
    return state


def _next_batch(config, data_it) -> dict:
    """The next process-local batch, [n_critic, B, ...] when n_critic > 1; labels only if used."""
    batch = next(data_it)
    if not config.model.num_classes:
        batch = {"image": batch["image"]}
    else:
        _check_labels(batch.get("label"), config.model.num_classes)
    if config.loss.n_critic > 1:
        batch = jax.tree.map(lambda x: x.reshape(config.loss.n_critic, -1, *x.shape[1:]), batch)
    return batch


def _check_labels(labels, num_classes: int) -> None:
    """Labels a conditional model cannot take fail here, not as NaNs inside the step."""
    if labels is None:
        raise ValueError(f"config.model.num_classes={num_classes} but the dataset has no labels")
    bad = [k for k in (labels.min(), labels.max()) if not 0 <= k < num_classes] if labels.size \
        else []
    if bad:
        raise ValueError(f"dataset label {bad[-1]} is outside config.model.num_classes="
                         f"{num_classes} (labels 0..{num_classes - 1})")


class _LogWindow:
    """Checks every step's losses and logs their means every `log_every` steps."""

    def __init__(self, config, writer, progress, tensor_names: list[str]):
        self.config, self.writer, self.progress = config, writer, progress
        self.tensor_names = tensor_names
        self.sums, self.count, self.t0 = {}, 0, time.perf_counter()

    def add(self, step: int, metrics: dict) -> None:
        metrics = dict(metrics)
        flags = metrics.pop(finite.FLAGS)
        values = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in metrics.items()}
        _check_finite(step, values, finite.bad(self.tensor_names, flags))
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + value
        self.count += 1
        self.progress.update(1)
        if step % self.config.log_every == 0 or step == self.config.num_steps:
            self._flush(step)

    def _flush(self, step: int) -> None:
        seconds = time.perf_counter() - self.t0
        means = {k: v / self.count for k, v in self.sums.items()}
        means["steps_per_sec"] = self.count / seconds
        means["images_per_sec"] = means["steps_per_sec"] * self.config.batch_size * self.config.loss.n_critic
        self.writer.scalars(step, means)
        self.writer.flush()
        self.progress.set_postfix(d_loss=f"{means['d_loss']:.3f}", g_loss=f"{means['g_loss']:.3f}")
        self.sums, self.count, self.t0 = {}, 0, time.perf_counter()


def _check_finite(step: int, losses: dict, bad_tensors: list[str]) -> None:
    """Raises FloatingPointError naming the step, a non-finite loss and the non-finite tensors
    that entered the step (a NaN in D's parameters stops the run at the first step that uses it)."""
    bad_losses = [f"{k}={v}" for k, v in losses.items() if not math.isfinite(v)]
    if not bad_losses and not bad_tensors:
        return
    parts = [f"non-finite {bad_losses[0]} at step {step}"] if bad_losses else []
    if bad_tensors:
        parts.append(f"non-finite tensors entering step {step}: {finite.listing(bad_tensors)}")
    raise FloatingPointError("; ".join(parts))


def _evaluate(config, state: GANState, step: int, writer) -> None:
    """Logs `config.eval.metrics` of the G-EMA (TensorBoard and metrics.jsonl)."""
    g_vars = jgan.state.variables(state.g_ema_params, state.g_ema_batch_stats,
                                  state.g_ema_collections)
    results = evaluate.evaluate(config, state.g.apply_fn, g_vars, config.eval.metrics,
                                config.eval.num_samples, seed=config.seed + 2)
    writer.scalars(step, {f"eval/{k}": v for k, v in results.items()})
    record = evaluate.protocol_record(config, config.eval.metrics)
    if record:  # The protocol beside its numbers: which split, how many samples, which weights.
        writer.record(step, {"eval_protocols": record})


def _write_samples(config, state: GANState, step: int, writer) -> None:
    """Samples from a fixed z (the same every time, so pictures are comparable across steps)."""
    num, cols = config.num_sample_images, int(math.ceil(math.sqrt(config.num_sample_images)))
    labels = None
    if config.model.num_classes:  # One class per row, every class: num rounded up to fill rows.
        cols = int(math.ceil(num / config.model.num_classes))
        labels = sampling.class_rows(config.model.num_classes, cols)
        num = len(labels)
    samples = np.asarray(jgan.sample(state, jax.random.key(config.seed + 1), num=num,
                                     labels=labels))
    if samples.ndim == 2:  # 2-D points: a scatter plot over the data's modes.
        centres = data.toy2d.modes(config.dataset.name)[0] if config.dataset.name in ("ring", "grid") else None
        picture = plots.scatter(samples, centres)
    else:
        picture = plots.image_grid(samples, cols=cols)
    writer.save_png(f"samples/step_{step:06d}.png", picture)
    writer.image(step, "samples", picture)
