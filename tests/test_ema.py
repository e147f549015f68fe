"""The G-EMA's ramp-up: the decay it uses, and a G-EMA no worse than the raw G on a short run."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jgan
from jgan import data, step as step_lib
from jgan.run import loop
from jgan.run.configs import ring2d
from jgan.state import variables


def _cfg(**kwargs):
    return step_lib.StepConfig(jgan.losses.get("non_saturating"), **kwargs)


def test_ema_decay_halves_weights_within_rampup_times_step_steps_up_to_the_decay():
    cfg = _cfg(ema_decay=0.9, ema_rampup=0.5)
    # Half-life 0.5·t steps: 0 at t = 0 (the EMA starts at G), 1 step at t = 2 (decay 0.5),
    # 2 steps at t = 4 (decay 0.5 ** 0.5); capped by ema_decay once 0.5 ** (1 / (0.5 t)) > 0.9.
    for step, want in ((0, 0.0), (2, 0.5), (4, 0.5 ** 0.5), (100, 0.9)):
        np.testing.assert_allclose(step_lib.ema_decay_at(cfg, step), want, rtol=1e-6)
    assert float(step_lib.ema_decay_at(_cfg(ema_decay=0.9), 0)) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="ema_rampup=-1"):
        jgan.make_train_step(ema_rampup=-1)


def test_the_step_averages_with_the_ramped_decay():
    G, D = jgan.models.get("mlp2d", g_hidden=8, d_hidden=8)
    tx = optax.adam(1e-2)
    state = jgan.create_state(jax.random.key(0), G, D, tx, tx, z_dim=2, image_shape=(2,))
    state = state.replace(step=jnp.asarray(2, state.step.dtype),  # Half-life 1 step: decay 0.5.
                          g_ema_params=jax.tree.map(jnp.zeros_like, state.g.params))
    batch = {"image": jax.random.uniform(jax.random.key(1), (8, 2), minval=-1.0)}
    new, _ = jax.jit(jgan.make_train_step(ema_decay=0.999, ema_rampup=0.5))(state, batch)
    jax.tree.map(lambda e, p: np.testing.assert_allclose(e, 0.5 * p, rtol=1e-6),
                 new.g_ema_params, new.g.params)


def _ema_and_raw_quality(config, steps: int, every: int):
    """[(step, high-quality share of the G-EMA, of the raw G)] every `every` steps of `config`,
    on 2 500 samples from a fixed z (PacGAN's protocol)."""
    state = loop.create_state_from_config(config)
    step_fn = jax.jit(loop.make_step_fn(config))
    batches = data.make_iterator(config.dataset, batch_size=config.batch_size,
                                 image_shape=tuple(config.model.image_shape), seed=config.seed)
    centres, std = data.toy2d.modes(config.dataset.name)

    def high_quality(params, batch_stats, collections):
        x = jgan.sampling.generate(state.g.apply_fn, variables(params, batch_stats, collections),
                                   jax.random.key(2), 2500, config.model.z_dim)
        nearest = np.linalg.norm(np.asarray(x)[:, None] - centres[None], axis=-1).min(axis=1)
        return float((nearest < 3 * std).mean())

    rows = []
    for t in range(1, steps + 1):
        state, _ = step_fn(state, {"image": next(batches)["image"]})
        if t % every == 0:
            rows.append((t, high_quality(state.g_ema_params, state.g_ema_batch_stats,
                                         state.g_ema_collections),
                         high_quality(state.g.params, state.g.batch_stats, state.g.collections)))
    return rows


def _worse(rows):
    """Checkpoints where the G-EMA's share is below the raw G's by more than two standard errors
    of a 2 500-sample share (the noise of comparing two samples)."""
    return [(t, ema, raw) for t, ema, raw in rows
            if ema < raw - 2 * np.sqrt(max(raw * (1 - raw), 1e-4) / 2500)]


def test_ring2d_g_ema_is_never_worse_than_raw_g_and_the_old_fixed_decay_was():
    config = ring2d.get_config()  # The shipped config, cut short; its ema keys unchanged.
    rows = _ema_and_raw_quality(config, steps=400, every=100)
    assert not _worse(rows), f"(step, G-EMA share, raw G share): {rows}"
    assert rows[-1][1] > 0.02, rows  # The run learns: the comparison is not between two zeros.
    config.ema.update(dict(decay=0.999, rampup=0.0))  # jgan's EMA before the ramp-up.
    old = _ema_and_raw_quality(config, steps=400, every=100)
    assert _worse(old), f"the fixed decay should lag behind G: {old}"
