"""The training run: `train_and_evaluate(config, workdir)`, behind `jgan train` and
experiments/train.py.

Sections: Model / Parallel / Input / Checkpoint / Loop. The loop dispatches step t before it reads
step t−1's metrics, so the device never waits for the host.
"""
import math
import time
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
import tqdm
from absl import logging

import jgan
from jgan import data, optimizers
from jgan.metrics import evaluate
from jgan.run import checkpoint, engine as engine_lib, plots, writers
from jgan.state import GANState


def build_models(config, axis_name: Optional[str] = None):
    """(G, D) from `config.model`; `axis_name` makes BatchNorm cross-device under pmap."""
    kwargs = dict(config.model.kwargs)
    if axis_name is not None:
        kwargs["axis_name"] = axis_name
    return jgan.models.get(config.model.name, **kwargs)


def create_state_from_config(config, axis_name: Optional[str] = None) -> GANState:
    G, D = build_models(config, axis_name)
    return jgan.create_state(jax.random.key(config.seed), G, D, optimizers.from_config(config.optimizer.g),
                             optimizers.from_config(config.optimizer.d), z_dim=config.model.z_dim,
                             image_shape=tuple(config.model.image_shape),
                             num_classes=config.model.num_classes)


def make_step_fn(config, axis_name: Optional[str] = None):
    loss = config.loss
    return jgan.make_train_step(
        loss.name, n_critic=loss.n_critic, gp_weight=loss.gp_weight, r1_weight=loss.r1_weight,
        r1_every=loss.r1_every, ema_decay=config.ema.decay, ema_start=config.ema.start,
        axis_name=axis_name)


def run(config, workdir, *, multihost: bool = False, coordinator: Optional[str] = None,
        num_processes: Optional[int] = None, process_id: Optional[int] = None,
        timeout_s: int = 120) -> GANState:
    """`jgan train`: process settings, joining a multi-process job if asked, then the run."""
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO level.
    # On CPU the steps run on the calling thread (jgan.cpu.configure says why). JAX reads this
    # when it creates its CPU client, so before any use; accelerators' clients ignore it.
    jax.config.update("jax_cpu_enable_async_dispatch", False)
    if multihost or coordinator:
        engine_lib.initialize_distributed(coordinator, num_processes, process_id, timeout_s)
    return train_and_evaluate(config, workdir)


def train_and_evaluate(config, workdir) -> GANState:
    """Trains `config` in `workdir`, resuming from its latest checkpoint; returns the final state."""
    # ---------------------------------------------------------------- Parallel
    engine = engine_lib.Engine(config.parallel.mode, config.batch_size, config.loss.n_critic)
    # ---------------------------------------------------------------- Model
    state = create_state_from_config(config, engine.axis_name)
    step_fn = engine.compile(make_step_fn(config, engine.axis_name))
    # ---------------------------------------------------------------- Input
    if config.dataset.name in data.prepare.PREPARERS:  # Built offline on first use.
        data.ensure_prepared(config.dataset.name, config.dataset.data_dir, config.dataset.source)
    data_it = data.make_iterator(
        config.dataset, batch_size=engine.process_batch * config.loss.n_critic,
        image_shape=tuple(config.model.image_shape), seed=config.seed,
        process_index=jax.process_index(), process_count=jax.process_count())
    if config.eval_every:  # Unknown metrics or missing feature weights fail now, not mid-run.
        evaluate.check_metrics(config, config.eval.metrics)
    # ---------------------------------------------------------------- Checkpoint
    ckpt = checkpoint.Checkpointer(workdir, config)
    state = engine.put_state(state)
    restored, data_state = ckpt.restore_latest(engine.to_global(state))
    if data_state is not None:
        state = engine.from_global(restored)
        data_it.set_state(data_state)
    writer = writers.create(workdir)
    try:
        state = _loop(config, engine, step_fn, state, data_it, ckpt, writer)
    finally:
        ckpt.close()
        writer.close()
    return engine.local_state(state)


def _loop(config, engine, step_fn, state, data_it, ckpt, writer):
    """Runs steps until `config.num_steps` or a preemption request; returns the state."""
    start = int(engine.local_state(state).step)
    progress = tqdm.tqdm(total=config.num_steps, initial=start, disable=jax.process_index() != 0,
                         dynamic_ncols=True, desc="train")
    log = _LogWindow(config, writer, progress)
    pending = None  # (step, metrics) of the step dispatched last, not read yet.
    for step in range(start + 1, config.num_steps + 1):
        state, metrics = step_fn(state, engine.put_batch(_next_batch(config, data_it)))
        if pending is not None:
            log.add(*pending)
        pending = (step, metrics)
        saving = step % config.checkpoint_every == 0 or step == config.num_steps
        preempted = ckpt.preemption_requested(step)
        if saving or preempted or step % config.sample_every == 0:
            log.add(*pending)  # Never save or show a state whose losses were not checked.
            pending = None
        if step % config.sample_every == 0 or step == config.num_steps:
            _write_samples(config, engine.local_state(state), step, writer)
        if config.eval_every and (step % config.eval_every == 0 or step == config.num_steps):
            _evaluate(config, engine.local_state(state), step, writer)
        if saving or preempted:
            _check_finite_params(engine.local_state(state), step)
            ckpt.save(step, engine.to_global(state), data_it.get_state(), force=True)
        if preempted:
            print(f"jgan: preemption requested; saved step {step}, exiting", flush=True)
            break
    if pending is not None:
        log.add(*pending)
    ckpt.wait()
    progress.close()
    return state


@jax.jit
def _all_finite(params) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(params)]))


def _check_finite_params(state: GANState, step: int) -> None:
    """Losses come from the parameters before an update; a checkpoint must not hold NaNs."""
    if not bool(_all_finite((state.g.params, state.d.params))):
        raise FloatingPointError(f"non-finite parameters at step {step}; not saved")


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

    def __init__(self, config, writer, progress):
        self.config, self.writer, self.progress = config, writer, progress
        self.sums, self.count, self.t0 = {}, 0, time.perf_counter()

    def add(self, step: int, metrics: dict) -> None:
        values = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in metrics.items()}
        for name, value in values.items():
            if not math.isfinite(value):
                raise FloatingPointError(f"non-finite {name}={value} at step {step}")
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
    # A conditional G draws one class per row of the grid (classes repeat if rows outnumber them).
    labels = (np.arange(num) // cols % config.model.num_classes) if config.model.num_classes \
        else None
    samples = np.asarray(jgan.sample(state, jax.random.key(config.seed + 1), num=num,
                                     labels=labels))
    if samples.ndim == 2:  # 2-D points: a scatter plot over the data's modes.
        centres = data.toy2d.modes(config.dataset.name)[0] if config.dataset.name in ("ring", "grid") else None
        picture = plots.scatter(samples, centres)
    else:
        picture = plots.image_grid(samples, cols=cols)
    writer.save_png(f"samples/step_{step:06d}.png", picture)
    writer.image(step, "samples", picture)
