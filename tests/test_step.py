"""The training step: which player each phase touches, penalties, EMA, n_critic, jit."""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jgan
from jgan import step as step_lib

# A tiny mlp2d (with BatchNorm in G) keeps compiles short; used for testing only.
Z_DIM, SHAPE, B = 2, (2,), 16
TX = optax.adam(1e-3, 0.5)


@functools.lru_cache  # States are immutable: tests share them instead of compiling `init` again.
def _tiny_state(seed=0, G=None, D=None, shape=SHAPE):
    if G is None:
        G, D = jgan.models.get("mlp2d", g_hidden=16, d_hidden=16)
    return jgan.create_state(jax.random.key(seed), G, D, TX, TX, z_dim=Z_DIM, image_shape=shape)


def _batch(n_critic=1, shape=SHAPE, seed=1):
    lead = (n_critic,) if n_critic > 1 else ()
    return {"image": jax.random.uniform(jax.random.key(seed), (*lead, B, *shape), minval=-1.0)}


def _equal(a, b):
    return all(jax.tree.leaves(jax.tree.map(lambda x, y: bool(jnp.array_equal(x, y)), a, b)))


def test_d_phase_leaves_g_untouched_and_g_phase_leaves_d_untouched():
    cfg = step_lib.StepConfig(jgan.losses.get("non_saturating"))
    state = _tiny_state()
    after_d, _ = jax.jit(step_lib.d_phase, static_argnums=0)(cfg, state, _batch())
    assert _equal(after_d.g, state.g)
    assert not _equal(after_d.d.params, state.d.params)
    after_g, _ = jax.jit(step_lib.g_phase, static_argnums=0)(cfg, after_d, _batch())
    assert _equal(after_g.d, after_d.d)  # This D has no spectral norm, which G's pass updates.
    assert not _equal(after_g.g.params, after_d.g.params)


def test_ema_with_decay_zero_equals_g_params_and_decay_one_keeps_init():
    state = _tiny_state()
    new, _ = jax.jit(jgan.make_train_step(ema_decay=0.0))(state, _batch())
    assert _equal(new.g_ema_params, new.g.params)
    frozen, _ = jax.jit(jgan.make_train_step(ema_decay=1.0))(state, _batch())
    assert _equal(frozen.g_ema_params, state.g.params)
    assert not _equal(frozen.g_ema_params, frozen.g.params)


def test_ema_start_copies_params_until_start_step():
    step = jax.jit(jgan.make_train_step(ema_decay=0.5, ema_start=2))
    state = _tiny_state()
    for _ in range(2):
        state, _ = step(state, _batch())
        assert _equal(state.g_ema_params, state.g.params)
    before = state.g_ema_params
    state, _ = step(state, _batch())
    expected = jax.tree.map(lambda e, p: 0.5 * e + 0.5 * p, before, state.g.params)
    assert jax.tree.all(jax.tree.map(lambda x, y: jnp.allclose(x, y, atol=1e-7),
                                     state.g_ema_params, expected))


def test_jitted_equals_unjitted():
    # Op by op, each of the step's hundreds of operations compiles alone: no penalty, to keep it
    # short (the penalties' jitted steps are checked against golden values in test_regularizers).
    step = jgan.make_train_step(loss="hinge")
    state = _tiny_state()
    eager_state, eager_metrics = step(state, _batch())
    jit_state, jit_metrics = jax.jit(step)(state, _batch())
    np.testing.assert_allclose(eager_metrics["d_loss"], jit_metrics["d_loss"], rtol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
                 eager_state, jit_state)


def test_n_critic_three_performs_three_d_updates():
    state, metrics = jax.jit(jgan.make_train_step(n_critic=3))(_tiny_state(), _batch(n_critic=3))
    assert int(state.d.step) == 3 and int(state.g.step) == 1 and int(state.step) == 1
    adam_counts = [int(s.count) for s in jax.tree.leaves(
        state.d.opt_state, is_leaf=lambda s: isinstance(s, optax.ScaleByAdamState))
        if isinstance(s, optax.ScaleByAdamState)]
    assert adam_counts == [3]


def test_step_is_deterministic_and_seed_dependent():
    step = jax.jit(jgan.make_train_step())
    a, _ = step(_tiny_state(seed=0), _batch())
    b, _ = step(_tiny_state.__wrapped__(seed=0), _batch())  # A state built anew, not the cached one.
    c, _ = step(_tiny_state(seed=1), _batch())
    assert _equal(a.g.params, b.g.params) and not _equal(a.g.params, c.g.params)


class _LinearD(nn.Module):
    """D(x) = <w, x> with ‖w‖ = `norm`: its input gradient has norm `norm` everywhere."""
    norm: float

    @nn.compact
    def __call__(self, x, labels=None, *, train):
        w = self.param("w", lambda key, shape: self.norm * jnp.ones(shape) / np.sqrt(shape[0]),
                       (int(np.prod(x.shape[1:])),))
        return x.reshape(x.shape[0], -1) @ w


class _ConstantD(nn.Module):
    @nn.compact
    def __call__(self, x, labels=None, *, train):
        return jnp.broadcast_to(self.param("b", nn.initializers.ones, ()), x.shape[:1])


def _penalties(D, **kw):
    G, _ = jgan.models.get("mlp2d", g_hidden=16, d_hidden=16)
    cfg = step_lib.StepConfig(jgan.losses.get("wasserstein"),
                              regularizers=jgan.regularizers.from_flags(**kw))
    _, metrics = jax.jit(step_lib.d_phase, static_argnums=0)(cfg, _tiny_state(G=G, D=D), _batch())
    return metrics


def test_gradient_penalty_is_zero_for_unit_gradient_norm_and_one_for_norm_two():
    assert float(_penalties(_LinearD(1.0), gp_weight=10.0)["gp"]) < 1e-10
    np.testing.assert_allclose(_penalties(_LinearD(2.0), gp_weight=10.0)["gp"], 1.0, rtol=1e-5)


def test_r1_is_exactly_zero_for_constant_d_and_norm_squared_for_linear_d():
    assert float(_penalties(_ConstantD(), r1_weight=1.0)["r1"]) == 0.0
    np.testing.assert_allclose(_penalties(_LinearD(2.0), r1_weight=1.0)["r1"], 4.0, rtol=1e-5)


def test_lazy_r1_runs_every_r1_every_d_updates():
    step = jax.jit(jgan.make_train_step(loss="wasserstein", r1_weight=1.0, r1_every=2))
    G, _ = jgan.models.get("mlp2d", g_hidden=16, d_hidden=16)
    state = _tiny_state(G=G, D=_LinearD(2.0))
    r1 = []
    for _ in range(4):
        state, metrics = step(state, _batch())
        r1.append(float(metrics["r1"]))
    assert r1[1] == r1[3] == 0.0 and r1[0] > 1.0 and r1[2] > 1.0


def test_metrics_are_finite_and_complete():
    _, metrics = jax.jit(jgan.make_train_step(gp_weight=1.0, r1_weight=1.0))(_tiny_state(), _batch())
    assert set(metrics) == {"d_loss", "g_loss", "d_real_logit", "d_fake_logit", "gp", "r1",
                            "d_grad_norm", "g_grad_norm"}
    assert all(np.isfinite(float(v)) for v in metrics.values())


def test_wrong_image_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"shape \(16, 3\); expected \[B, 2\]"):
        jgan.make_train_step()(_tiny_state(), {"image": jnp.zeros((16, 3))})
    with pytest.raises(ValueError, match=r"shape \(16, 2\); expected \[3, B, 2\]"):
        jgan.make_train_step(n_critic=3)(_tiny_state(), {"image": jnp.zeros((16, 2))})


def test_bad_step_options_are_rejected():
    with pytest.raises(ValueError, match="n_critic=0"):
        jgan.make_train_step(n_critic=0)
    with pytest.raises(ValueError, match="ema_decay=1.5"):
        jgan.make_train_step(ema_decay=1.5)



def _sn_state(d_learning_rate=1e-3):
    G, D = jgan.models.get("mlp2d", g_hidden=16, d_hidden=16, spectral_norm=True)
    return jgan.create_state(jax.random.key(0), G, D, optax.adam(1e-3, 0.5),
                             optax.adam(d_learning_rate, 0.5), z_dim=Z_DIM, image_shape=SHAPE)


def _iterate(W, u, times):
    """PyTorch's power iteration (jgan.nn.spectral_norm's formula) in NumPy."""
    for _ in range(times):
        v = W.T @ u / np.linalg.norm(W.T @ u)
        u = W @ v / np.linalg.norm(W @ v)
    return u


def _u(state, name):
    return np.asarray(state.d.collections["spectral_norm"][f"{name}_sn"]["u"], np.float64)


def _matrix(params, name):
    return np.asarray(params[name]["kernel"], np.float64).T  # PyTorch's [out, in].


def test_spectral_norm_advances_twice_per_d_update_and_once_in_g_update():
    n_critic = 3  # (n_critic = 1: the next test, pass by pass.)
    state = _sn_state(d_learning_rate=0.0)  # D's weights stay: only the count of passes shows.
    new, _ = jax.jit(jgan.make_train_step("hinge", n_critic=n_critic))(
        state, _batch(n_critic=n_critic))
    for name in state.d.params:  # Dense_0 ... Dense_3, each wrapped.
        expected = _iterate(_matrix(state.d.params, name), _u(state, name), 2 * n_critic + 1)
        np.testing.assert_allclose(_u(new, name), expected, atol=1e-5, err_msg=name)


def test_g_update_pass_advances_spectral_norm_with_the_updated_d():
    """D's real and fake passes see its weights before the update, G's pass the updated ones;
    the G phase changes D's spectral norm vectors and nothing else of D."""
    cfg = step_lib.StepConfig(jgan.losses.get("hinge"))
    state = _sn_state()
    after_d, _ = jax.jit(step_lib.d_phase, static_argnums=0)(cfg, state, _batch())
    after_g, _ = jax.jit(step_lib.g_phase, static_argnums=0)(cfg, after_d, _batch())
    assert _equal(after_g.d.replace(collections=None), after_d.d.replace(collections=None))
    for name in state.d.params:
        u = _iterate(_matrix(state.d.params, name), _u(state, name), 2)
        np.testing.assert_allclose(_u(after_d, name), u, atol=1e-5, err_msg=name)
        u = _iterate(_matrix(after_d.d.params, name), u, 1)
        np.testing.assert_allclose(_u(after_g, name), u, atol=1e-5, err_msg=name)
