"""Optimizers from configs: learning-rate schedules reach the stated rates at the stated G steps
for both players (D updating n_critic times per G step), TTUR, the mode-collapse
benchmark's training of the shipped 2-D configs, and bad input."""
import functools
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgan.run import configs, loop

from conftest import REPO, exit_message

sys.path.insert(0, str(REPO / "experiments" / "benchmarks"))
import mode_collapse  # noqa: E402


def _sgd_rates(tx, num_updates):
    """The rate of each of `num_updates` updates: plain SGD's update of a unit gradient is -lr."""
    opt_state, rates = tx.init(jnp.zeros(())), []
    for _ in range(num_updates):
        updates, opt_state = tx.update(jnp.ones(()), opt_state)
        rates.append(-float(updates))
    return np.array(rates)


# (schedule, warmup, {G step: the rate the schedule's definition gives}) for lr 1e-3 over 10 steps:
# linear falls by 1e-4 a step; warmup_cosine climbs by 5e-4 a step to its peak at step 2, then
# follows 1e-3 · (1 + cos(π · (t − 2) / 8)) / 2, which is 5e-4 halfway (t = 6).
CASES = [("constant", 0, {0: 1e-3, 5: 1e-3, 9: 1e-3}),
         ("linear", 0, {0: 1e-3, 1: 9e-4, 5: 5e-4, 9: 1e-4}),
         ("warmup_cosine", 2, {0: 0.0, 1: 5e-4, 2: 1e-3, 6: 5e-4})]


@pytest.mark.parametrize("schedule,warmup,expected", CASES)
@pytest.mark.parametrize("n_critic", [1, 3])
def test_schedules_reach_the_stated_rates_at_the_stated_g_steps_for_both_players(
        schedule, warmup, expected, n_critic):
    config = configs.load("ring2d:tiny", ["--config.num_steps=10",
                                          f"--config.loss.n_critic={n_critic}"])
    for player in ("g", "d"):
        _sgd(config, player, learning_rate=1e-3, schedule=schedule, warmup_steps=warmup)
    state = loop.create_state_from_config(config)
    g_rates = _sgd_rates(state.g.tx, 10)
    d_rates = _sgd_rates(state.d.tx, 10 * n_critic)
    for step, rate in expected.items():
        np.testing.assert_allclose(g_rates[step], rate, atol=1e-9, err_msg=f"G at step {step}")
        # D's first update of G step `step` is its update number step · n_critic.
        np.testing.assert_allclose(d_rates[step * n_critic], rate, atol=1e-9,
                                   err_msg=f"D at step {step}")


def _sgd(config, player, **kw):
    """`config.optimizer[player]` made plain SGD (whose update shows the rate) with `kw`."""
    with config.unlocked():
        config.optimizer[player] = {"name": "sgd", "schedule": "constant", "warmup_steps": 0, **kw}


def test_ttur_gives_each_player_its_own_rate():
    config = configs.load("ring2d:tiny")
    _sgd(config, "g", learning_rate=1e-4)
    _sgd(config, "d", learning_rate=4e-4)
    state = loop.create_state_from_config(config)
    np.testing.assert_allclose(_sgd_rates(state.g.tx, 1), [1e-4])
    np.testing.assert_allclose(_sgd_rates(state.d.tx, 1), [4e-4])


@pytest.mark.parametrize("name,dataset", [("jgan", "ring"), ("gan", "grid")])
def test_the_mode_collapse_benchmark_trains_the_shipped_configs_as_jgan_train_does(name, dataset):
    """Its seed s is the config's run with seed s: the same initial state and step, compared on
    the same batches over 4 steps of a run 4 steps long (the linear decay: 1, 3/4, 1/2, 1/4);
    the grid with 2 D steps per G step, whose batches are [n_critic, B, 2]."""
    shipped = configs.load({"ring": "ring2d", "grid": "grid2d"}[dataset])
    config = mode_collapse.setup_config(name, dataset)
    assert config.to_dict() == {**shipped.to_dict(), "model": {
        **shipped.model.to_dict(), "kwargs": {**shipped.model.kwargs.to_dict(),
                                              "pack": 1 if name == "gan" else 2}}}
    small = ["--config.num_steps=4", "--config.batch_size=16",
             "--config.model.kwargs.g_hidden=16", "--config.model.kwargs.d_hidden=16",
             *(["--config.loss.n_critic=2"] if dataset == "grid" else [])]
    config = mode_collapse.setup_config(name, dataset, small)
    states, vmapped_step = mode_collapse.build(config, 2)
    config.seed = 1
    state, step = loop.create_state_from_config(config), jax.jit(loop.make_step_fn(config))
    vmapped_step = jax.jit(vmapped_step)
    shape = mode_collapse.batch_shape(config)
    assert shape == ((2, 16) if dataset == "grid" else (16,))
    draw = jax.vmap(functools.partial(mode_collapse.draw, dataset, shape), (0, None))
    for i in range(4):
        batches = draw(jnp.arange(2), i)
        states = vmapped_step(states, {"image": batches})[0]
        state = step(state, {"image": batches[1]})[0]
    ours = jax.tree_util.tree_flatten_with_path(jax.tree.map(lambda x: x[1], states))[0]
    theirs = jax.tree.leaves(state)
    assert len(ours) == len(theirs) > 0
    for (path, a), b in zip(ours, theirs):
        a, b = (jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x
                for x in (a, b))
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=jax.tree_util.keystr(path))
    assert not np.allclose(states.g.params["Dense_0"]["kernel"][0],
                           states.g.params["Dense_0"]["kernel"][1])  # Seeds differ.


@pytest.mark.parametrize("override,message", [
    ("--config.optimizer.g.schedule=cosine",
     "unknown learning-rate schedule 'cosine'; expected one of"),
    ("--config.optimizer.d.warmup_steps=50",
     "warmup_steps=50 with schedule 'linear'; expected schedule 'warmup_cosine'"),
    ("--config.optimizer.g.learning_rate=-0.1", "learning_rate=-0.1; expected a number >= 0"),
])
def test_bad_optimizer_configs_end_in_one_line(tmp_path, override, message):
    assert message in exit_message(["jgan", "train", "--config", "ring2d:tiny", "--workdir",
                                    str(tmp_path / "w"), override])
    assert not (tmp_path / "w" / "checkpoints").exists()


def test_a_warmup_longer_than_the_run_names_both(tmp_path):
    message = exit_message(["jgan", "train", "--config", "ring2d:tiny", "--workdir", str(tmp_path),
                            "--config.optimizer.g.schedule=warmup_cosine",
                            "--config.optimizer.g.warmup_steps=500"])
    assert "warmup_steps=500 does not fit a run of num_steps=20" in message, message
