"""Regularisers as values: GP and R1 give today's numbers, LeCam's state, DRAGAN, a user's own
regulariser, and bad input.

Golden values: tests/data/regularizer_golden.json, made by tests/data/make_regularizer_golden.py
(its docstring has the command) with the code of commit 5daba72, where GP and R1 were the step's
`gp_weight` / `r1_weight` / `r1_every` flags. Regenerate them only if the step's numbers are meant
to change (e.g. a new random stream for the penalties), and say why in the commit.
"""
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jgan
from jgan import regularizers

from conftest import REPO, exit_message

sys.path.insert(0, str(REPO / "tests" / "data"))
import make_regularizer_golden as golden  # noqa: E402

GOLDEN = json.loads((REPO / "tests" / "data" / "regularizer_golden.json").read_text())
Z_DIM, SHAPE, B = 2, (2,), 16
TX = optax.adam(1e-3, 0.5)


def _values_step(loss, n_critic, flags):
    """Today's flags written as regulariser values."""
    regs = []
    if flags.get("gp_weight"):
        regs.append(regularizers.gp(flags["gp_weight"]))
    if flags.get("r1_weight"):
        regs.append(regularizers.r1(flags["r1_weight"], every=flags.get("r1_every", 1)))
    return jgan.make_train_step(loss, n_critic=n_critic, regularizers=regs)


@pytest.mark.parametrize("name", sorted(golden.CASES))
def test_gp_and_r1_values_give_the_numbers_of_the_old_flags(name):
    result = golden.run(golden.CASES[name], _values_step)
    want = GOLDEN[name]
    for step, (got, expected) in enumerate(zip(result["metrics"], want["metrics"])):
        assert sorted(got) == sorted(expected), step
        for key in expected:
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name} step {step} {key}")
    for key in ("d_params", "g_params"):
        np.testing.assert_allclose(result[key], want[key], rtol=1e-5, atol=1e-5, err_msg=key)


# A tiny mlp2d (no BatchNorm or dropout in D, so D's logits can be recomputed outside the step).
def _state(regs=(), D=None, seed=0):
    G, D_default = jgan.models.get("mlp2d", g_hidden=16, d_hidden=16)
    return jgan.create_state(jax.random.key(seed), G, D or D_default, TX, TX, z_dim=Z_DIM,
                             image_shape=SHAPE, regularizers=regs)


def _batch(n_critic=1, seed=1):
    lead = (n_critic,) if n_critic > 1 else ()
    return {"image": jax.random.uniform(jax.random.key(seed), (*lead, B, *SHAPE), minval=-1.0)}


def test_a_user_written_regulariser_plugs_in():
    """Written as a user would, touching no jgan file: ProGAN's drift penalty E[D(real)²]."""
    drift = regularizers.Regularizer(
        "drift", lambda inputs: jnp.mean(inputs.real_logits ** 2), weight=1.0)
    state = _state()
    new, metrics = jax.jit(jgan.make_train_step("wasserstein", regularizers=[drift]))(
        state, _batch())
    D = jgan.models.get("mlp2d", g_hidden=16, d_hidden=16)[1]
    logits = D.apply({"params": state.d.params}, _batch()["image"], None, train=True)
    np.testing.assert_allclose(metrics["drift"], jnp.mean(logits ** 2), rtol=1e-5)
    plain, _ = jax.jit(jgan.make_train_step("wasserstein"))(state, _batch())
    assert not np.array_equal(new.d.params["Dense_0"]["kernel"],
                              plain.d.params["Dense_0"]["kernel"])  # The penalty acts on D.


def test_a_user_written_stateful_regulariser_keeps_its_state_and_is_lazy():
    """A penalty that counts the D updates it ran on, every 2nd D update: 3 steps of n_critic = 2
    are 6 D updates, of which the 1st, 3rd and 5th pay."""
    counter = regularizers.Regularizer(
        "counter", lambda inputs, state: (jnp.zeros(()), {"paid": state["paid"] + 1}),
        weight=1.0, every=2, init=lambda: {"paid": jnp.zeros((), jnp.int32)})
    step = jax.jit(jgan.make_train_step(n_critic=2, regularizers=[counter]))
    state = _state([counter])
    assert int(state.reg_state["counter"]["paid"]) == 0
    for _ in range(3):
        state, _ = step(state, _batch(n_critic=2))
    assert int(state.d.step) == 6 and int(state.reg_state["counter"]["paid"]) == 3


def test_lecam_updates_its_emas_first_and_penalises_by_them():
    """After the first D update the zero-debiased EMAs are that update's mean logits: the
    penalty is E relu(D(real) − mean D(fake))² + E relu(mean D(real) − D(fake))²."""
    lecam = regularizers.lecam(0.3)
    state = _state([lecam])
    new, metrics = jax.jit(jgan.make_train_step("hinge", regularizers=[lecam]))(state, _batch())
    ema = new.reg_state["lecam"]
    assert int(ema["count"]) == 1
    np.testing.assert_allclose(ema["ema_real"], 0.01 * metrics["d_real_logit"], rtol=1e-5)
    np.testing.assert_allclose(ema["ema_fake"], 0.01 * metrics["d_fake_logit"], rtol=1e-5)
    twice, metrics2 = jax.jit(jgan.make_train_step("hinge", regularizers=[lecam]))(new, _batch())
    expected = 0.99 * ema["ema_real"] + 0.01 * metrics2["d_real_logit"]
    np.testing.assert_allclose(twice.reg_state["lecam"]["ema_real"], expected, rtol=1e-5)


def _lecam_inputs(real_logits, fake_logits):
    return regularizers.Inputs(None, None, jnp.asarray(real_logits), jnp.asarray(fake_logits),
                               None, None, None, None, pmean=lambda x: x)


def test_lecam_penalty_uses_the_zero_debiased_emas():
    """Two updates by hand: logits r = (1, 3), f = (−2, 0) then r = (2, 2), f = (1, −1); decay
    0.5. Debiased EMAs: after one update the means (2, −1); after two
    (0.5·0.5·2 + 0.5·2) / (1 − 0.25) = 2 and (0.5·0.5·(−1) + 0.5·0) / 0.75 = −1/3."""
    lecam = regularizers.lecam(1.0, decay=0.5)
    value, state = lecam.penalty(_lecam_inputs([1.0, 3.0], [-2.0, 0.0]), lecam.init())
    # E relu(r − (−1))² + E relu(2 − f)² = (4 + 16) / 2 + (16 + 4) / 2.
    np.testing.assert_allclose(value, 20.0, rtol=1e-6)
    value, state = lecam.penalty(_lecam_inputs([2.0, 2.0], [1.0, -1.0]), state)
    ema_fake = -1.0 / 3.0
    expected = (2 * (2.0 - ema_fake) ** 2) / 2 + ((2.0 - 1.0) ** 2 + (2.0 + 1.0) ** 2) / 2
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    assert int(state["count"]) == 2


def test_a_stateful_regulariser_without_its_state_names_the_fix():
    with pytest.raises(ValueError, match=r"regularizer 'lecam' keeps state but state.reg_state "
                                         r"has \[\]; create the state with jgan.create_state"):
        jgan.make_train_step(regularizers=[regularizers.lecam()])(_state(), _batch())


def _linear_d(norm):
    import flax.linen as nn

    class LinearD(nn.Module):
        """D(x) = <w, x> with ‖w‖ = `norm`: input gradient of norm `norm` everywhere."""
        @nn.compact
        def __call__(self, x, labels=None, *, train):
            w = self.param("w", lambda key, shape: norm * jnp.ones(shape) / np.sqrt(shape[0]),
                           (int(np.prod(x.shape[1:])),))
            return x.reshape(x.shape[0], -1) @ w
    return LinearD()


def test_dragan_is_zero_for_unit_gradient_norm_and_one_for_norm_two():
    dragan = regularizers.dragan(10.0)
    cfg = jgan.step.StepConfig(jgan.losses.get("wasserstein"), regularizers=(dragan,))
    d_phase = jax.jit(jgan.step.d_phase, static_argnums=0)
    for norm, expected in ((1.0, 0.0), (2.0, 1.0)):
        _, metrics = d_phase(cfg, _state(D=_linear_d(norm)), _batch())
        np.testing.assert_allclose(metrics["dragan"], expected, atol=1e-5, err_msg=str(norm))


def test_dragan_perturbs_real_data_by_its_spread():
    """A D whose input gradient norm is |x₀|·2 (D = x₀²): the penalty depends on where DRAGAN
    evaluates it, so real data shifted far away (same spread) changes it."""
    import flax.linen as nn

    class SquareD(nn.Module):
        @nn.compact
        def __call__(self, x, labels=None, *, train):
            return x[:, 0] ** 2 + 0.0 * self.param("b", nn.initializers.zeros, ())

    cfg = jgan.step.StepConfig(jgan.losses.get("wasserstein"),
                               regularizers=(regularizers.dragan(10.0),))
    d_phase = jax.jit(jgan.step.d_phase, static_argnums=0)
    real = _batch()["image"]
    _, metrics = d_phase(cfg, _state(D=SquareD()), {"image": real})
    x0 = np.asarray(real[:, 0])
    at_real = np.mean((2 * np.abs(x0) - 1) ** 2)
    # Perturbations are ≥ 0 and at most 0.5·std(x) per element: between x and x + 0.5·std.
    assert float(metrics["dragan"]) != pytest.approx(at_real, rel=1e-3)
    std = np.std(np.asarray(real))
    hi = np.mean(np.maximum((2 * np.abs(x0) - 1) ** 2, (2 * np.abs(x0 + 0.5 * std) - 1) ** 2))
    assert 0.0 < float(metrics["dragan"]) <= hi + 1e-5


@pytest.mark.parametrize("entries,message", [
    ('[{"name": "r2"}]',
     "unknown regularizer 'r2'; expected one of ['dragan', 'gp', 'lecam', 'r1']"),
    ('[{"name": "gp", "weight": -1.0}]',
     "regularizer 'gp': weight=-1.0; expected a finite number"),
    ('[{"name": "r1", "every": 0}]', "regularizer 'r1': every=0; expected an integer >= 1"),
    ('[{"name": "lecam", "decay": 1.5}]', "regularizer 'lecam': decay=1.5; expected a number in"),
    ('[{"name": "lecam", "lambda": 0.3}]', "regularizer 'lecam': "),
    ('["r1"]', "config.loss.regularizers entry 'r1'; expected a dict with a 'name'"),
])
def test_bad_regularizers_in_a_config_end_in_one_line_before_any_write(tmp_path, entries,
                                                                      message):
    got = exit_message(["jgan", "train", "--config", "ring2d:tiny", "--workdir", str(tmp_path),
                        f"--config.loss.regularizers={entries}"])
    assert got.startswith("error: " + message), got
    assert not (tmp_path / "checkpoints").exists()


def test_a_shorthand_and_an_entry_of_the_same_regulariser_are_refused(tmp_path):
    got = exit_message(["jgan", "train", "--config", "ring2d:tiny", "--workdir", str(tmp_path),
                        "--config.loss.r1_weight=1.0",
                        '--config.loss.regularizers=[{"name": "r1"}]'])
    assert "regularizer 'r1' is given twice" in got, got


def test_config_regularizers_and_shorthands_build_the_same_values():
    from jgan.run import configs
    flags = configs.load("ring2d:tiny", ["--config.loss.gp_weight=5.0",
                                         "--config.loss.r1_weight=2.0", "--config.loss.r1_every=4"])
    listed = configs.load("ring2d:tiny", ['--config.loss.regularizers=[{"name": "gp", "weight": '
                                          '5.0}, {"name": "r1", "weight": 2.0, "every": 4}]'])
    assert regularizers.from_config(flags.loss) == regularizers.from_config(listed.loss)
    assert [(r.name, r.weight, r.every) for r in regularizers.from_config(flags.loss)] == [
        ("gp", 5.0, 1), ("r1", 1.0, 4)]  # R1's multiplier is γ/2.


def test_lecam_and_dragan_under_pmap_over_four_devices_equal_one_device():
    """The LeCam EMAs and DRAGAN's spread are taken over the global batch, so 4 devices keep the
    same state as one (as tests/test_run_engine.py checks for GP and R1)."""
    regs = [regularizers.lecam(0.3), regularizers.dragan(10.0)]
    kw = dict(loss="hinge", n_critic=2, regularizers=regs)

    def state(axis_name):
        G, D = jgan.models.get("mlp2d", g_hidden=16, d_hidden=16, axis_name=axis_name)
        return jgan.create_state(jax.random.key(0), G, D, TX, TX, z_dim=Z_DIM, image_shape=SHAPE,
                                 regularizers=regs)

    batches = [_batch(n_critic=2, seed=s) for s in (1, 2)]
    single, step = state(None), jax.jit(jgan.make_train_step(**kw))
    for batch in batches:
        single, single_metrics = step(single, batch)
    devices = jax.local_devices()[:4]
    multi = jgan.parallel.replicate(state("batch"), devices)
    p_step = jax.pmap(jgan.make_train_step(axis_name="batch", **kw), axis_name="batch",
                      devices=devices)
    for batch in batches:
        multi, p_metrics = p_step(multi, jgan.parallel.shard_batch(batch, 4, axis=1))
    multi = jgan.parallel.unreplicate(multi)
    for name in ("ema_real", "ema_fake"):
        np.testing.assert_allclose(multi.reg_state["lecam"][name],
                                   single.reg_state["lecam"][name], rtol=1e-5, atol=1e-7)
    for name in ("lecam", "dragan", "d_loss"):
        np.testing.assert_allclose(p_metrics[name][0], single_metrics[name], rtol=1e-4, atol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5),
                 single.d.params, multi.d.params)
