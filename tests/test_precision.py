"""The bfloat16 precision policy (jgan.nn.precision): one step agrees with float32, the state stays
float32, the ring is covered, a checkpoint samples in bf16, penalties stay finite, oneDNN's bf16
convolutions agree with lax's, and bad requests fail in one line.

Tolerances come from bfloat16's 8-bit significand: rounding a value to bfloat16 moves it by at most
u = 2⁻⁸ (≈ 0.4 %) of itself. How far that moves a whole GAN step depends on the step's
conditioning, which at initialisation is poor (BatchNorm's backward subtracts batch means of
nearly equal gradients): rounding only the float32 step's parameters to bfloat16 already moves G's
update by ~30 %. So the reference is computed, not guessed: the bf16 step rounds the parameters
(as that reference does) and, in addition, each layer's activations and their gradients, each
rounding of the same size u, so its update may differ from float32's by at most
`ROUNDING_FACTOR` times what rounding the parameters alone does. A single convolution rounds once
after a float32 sum: oneDNN and lax then differ by at most one bfloat16 step of the result, 2⁻⁷
relative.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import lax

import jgan
from jgan.cpu import onednn
from jgan.data import toy2d
from jgan.metrics.modes import mode_stats
from jgan.nn import conv, conv_transpose, precision
from jgan.run import checkpoint, loop
from jgan.run.configs import ring2d

U = 2.0 ** -8  # bfloat16's unit roundoff.
ROUNDING_FACTOR = 3.0  # bf16 step error / parameter-rounding error (module docstring).
LOSS_RTOL = 0.05  # Losses: a forward pass only, ~2·L·u for L = 5 layers.
TINY = dict(resolution=32, channels=3, width=8)
needs_onednn_bf16 = pytest.mark.skipif(not (onednn.available() and onednn.bf16_supported()),
                                       reason="needs jgan-onednn and an AVX-512 BF16 processor")


def _state(precision_name, **kwargs):
    G, D = jgan.models.get("dcgan", precision=precision_name, **TINY)
    # SGD with momentum: a first update is −0.1 × the gradient, and there is optimizer state.
    tx = optax.sgd(0.1, momentum=0.9)
    return jgan.create_state(jax.random.key(0), G, D, tx, tx, z_dim=16, image_shape=(32, 32, 3))


def _batch():
    return {"image": jax.random.uniform(jax.random.key(1), (8, 32, 32, 3), minval=-1.0)}


def _rounded(state):
    """`state` with its parameters rounded to bfloat16 (and kept float32)."""
    rnd = lambda tree: jax.tree.map(lambda v: v.astype(jnp.bfloat16).astype(jnp.float32), tree)
    return state.replace(g=state.g.replace(params=rnd(state.g.params)),
                         d=state.d.replace(params=rnd(state.d.params)))


@pytest.fixture(scope="module")
def steps():
    """One step of the tiny dcgan: {case: (before, after, metrics)} for float32, bfloat16 and
    float32 from bfloat16-rounded parameters ("rounded")."""
    step = jax.jit(jgan.make_train_step(gp_weight=1.0))
    out = {}
    for case in ("float32", "bfloat16", "rounded"):
        state = _state("float32" if case == "rounded" else case)
        state = _rounded(state) if case == "rounded" else state
        out[case] = (state, *step(state, _batch()))
    return out


def _update(case, player):
    before, after, _ = case
    return jax.tree.map(jnp.subtract, getattr(after, player).params,
                        getattr(before, player).params)


def _relative_error(a_tree, b_tree) -> float:
    a, b = (jnp.concatenate([jnp.ravel(v) for v in jax.tree.leaves(t)]) for t in (a_tree, b_tree))
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))


def test_one_bf16_step_equals_the_f32_step_within_bf16_rounding(steps):
    f32, bf16, rounded = steps["float32"], steps["bfloat16"], steps["rounded"]
    jax.tree.map(np.testing.assert_array_equal, bf16[0].g.params, f32[0].g.params)
    for player in ("g", "d"):
        reference = _relative_error(_update(rounded, player), _update(f32, player))
        error = _relative_error(_update(bf16, player), _update(f32, player))
        assert 0 < error < ROUNDING_FACTOR * reference, \
            f"{player}'s update: bf16 error {error:.4f}, parameter rounding alone {reference:.4f}"
    metrics16, metrics32 = bf16[2], f32[2]
    for name in ("d_loss", "d_real_logit", "gp"):  # The D step's forward passes.
        np.testing.assert_allclose(metrics16[name], metrics32[name], rtol=LOSS_RTOL, atol=U,
                                   err_msg=name)


def test_a_bf16_state_keeps_parameters_optimizer_state_and_statistics_in_f32(steps):
    _, after, _ = steps["bfloat16"]
    floats = [leaf for leaf in jax.tree.leaves(after) if jnp.issubdtype(leaf.dtype, jnp.floating)]
    assert floats and all(leaf.dtype == jnp.float32 for leaf in floats), \
        sorted({str(leaf.dtype) for leaf in floats})
    assert jax.tree.leaves(after.g.batch_stats) and jax.tree.leaves(after.d.opt_state)


def test_bf16_models_compute_in_bf16_and_return_f32():
    G, D = jgan.models.get("dcgan", precision="bfloat16", **TINY)
    z, images = jnp.zeros((2, 16)), jnp.zeros((2, 32, 32, 3))
    g_vars = G.init(jax.random.key(0), z, train=False)
    d_vars = D.init(jax.random.key(0), images, train=False)
    for module, variables, x in ((G, g_vars, z), (D, d_vars, images)):
        jaxpr = jax.make_jaxpr(lambda v, x: module.apply(v, x, train=False))(variables, x)
        out_dtypes = {str(v.aval.dtype) for eqn in jaxpr.eqns for v in eqn.outvars}
        assert "bfloat16" in out_dtypes and jaxpr.out_avals[0].dtype == jnp.float32


@pytest.mark.parametrize("penalty", [dict(gp_weight=10.0), dict(r1_weight=10.0)])
def test_gradient_penalties_stay_finite_in_bf16(penalty):
    step = jax.jit(jgan.make_train_step(**penalty))
    key = "gp" if "gp_weight" in penalty else "r1"
    state = _state("bfloat16")
    for _ in range(3):  # Three steps apart, bf16 and f32 runs no longer agree closely.
        state, metrics = step(state, _batch())
        assert np.isfinite(float(metrics[key])) and float(metrics[key]) > 0, metrics
        assert np.isfinite(float(metrics["d_grad_norm"])), metrics
    assert all(bool(jnp.isfinite(leaf).all()) for leaf in jax.tree.leaves(state.d.params))


def test_a_bf16_run_of_the_ring_config_covers_all_8_modes():
    """ring2d's model, loss and optimizers (packed D), cut to batch 512 and 1 000 steps."""
    config = ring2d.get_config()
    config.batch_size = 512
    config.model.precision = "bfloat16"
    state, step = loop.create_state_from_config(config), loop.make_step_fn(config)
    centres, std = toy2d.modes("ring")

    def ring(key, n):
        mode_key, noise_key = jax.random.split(key)
        modes = jax.random.randint(mode_key, (n,), 0, len(centres))
        return jnp.asarray(centres, jnp.float32)[modes] + std * jax.random.normal(noise_key, (n, 2))

    @jax.jit
    def train(state):
        def body(state, i):
            batch = {"image": ring(jax.random.fold_in(jax.random.key(0), i), config.batch_size)}
            return step(state, batch)[0], None
        return lax.scan(body, state, jnp.arange(1000))[0]

    state = train(state)
    assert jax.tree.leaves(state.g.params)[0].dtype == jnp.float32
    stats = mode_stats(np.asarray(jgan.sample(state, jax.random.key(99), num=2500)), centres, std)
    assert stats["modes"] == 8, stats


def test_a_bf16_checkpoint_is_sampled_in_bf16_as_its_run_sampled(ring_config, tmp_path):
    """`load_generator` rebuilds G at the precision the run trained in: `jgan sample` and
    `jgan evaluate` score the model the run's own grids and evaluations drew from."""
    ring_config.model.precision = "bfloat16"
    state = loop.train_and_evaluate(ring_config, tmp_path)
    G, variables, config = checkpoint.load_generator(tmp_path)
    z = jax.random.normal(jax.random.key(0), (256, config.model.z_dim))
    in_run = state.g.apply_fn(variables, z, train=False)
    np.testing.assert_array_equal(G.apply(variables, z, train=False), in_run)
    G_f32 = jgan.models.get(config.model.name, **config.model.kwargs)[0]
    assert not np.array_equal(G_f32.apply(variables, z, train=False), in_run)


def _passes(op, impl):
    """(forward, input gradient, kernel gradient) of `op` on path `impl`, jitted."""
    def run(x, w, g):
        y, vjp = jax.vjp(lambda x, w: op(x, w, (2, 2), "SAME", impl), x, w)
        return (y, *vjp(g))
    return jax.jit(run)


@needs_onednn_bf16
@pytest.mark.parametrize("op", [conv, conv_transpose])
def test_onednn_bf16_convolution_equals_lax_bf16_forward_and_both_gradients(op):
    kx, kw, kg = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (2, 8, 8, 32), jnp.bfloat16)  # ≥ 16 channels: oneDNN in every pass.
    w = (0.1 * jax.random.normal(kw, (4, 4, 32, 24))).astype(jnp.bfloat16)
    g = jax.random.normal(kg, jax.eval_shape(lambda: op(x, w, (2, 2), "SAME", "lax")).shape,
                          jnp.bfloat16)
    ours, ref = _passes(op, "onednn"), _passes(op, "lax")
    program = ours.lower(x, w, g).compile().as_text()
    assert all(f'"jgan_conv_{p}"' in program for p in ("bwd_data", "bwd_weights"))
    for name, a, b in zip(("forward", "input gradient", "kernel gradient"), ours(x, w, g),
                          ref(x, w, g)):
        assert a.dtype == b.dtype == jnp.bfloat16, name
        a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
        # One bfloat16 step of the result (2⁻⁷ relative), plus float32 summation-order noise.
        np.testing.assert_allclose(a, b, rtol=2 * U, atol=1e-3 * np.abs(b).max(), err_msg=name)


def _one_line_error(fn, match):
    with pytest.raises(ValueError, match=match) as info:
        fn()
    assert "\n" not in str(info.value)


def test_an_unknown_precision_fails_in_one_line_naming_it():
    _one_line_error(lambda: jgan.models.get("dcgan", precision="float16"),
                    r"unknown precision 'float16'; expected one of 'float32', 'bfloat16'")
    _one_line_error(lambda: jgan.models.get("mlp2d", precision="bf16"), r"'bf16'")
    config = ring2d.get_config("tiny")
    config.model.precision = "half"
    _one_line_error(lambda: jgan.models.from_config(config.model), r"unknown precision 'half'")


def test_bf16_on_onednn_without_avx512_bf16_fails_in_one_line(monkeypatch):
    monkeypatch.setattr(onednn, "cpu_flags", lambda: frozenset({"avx512f", "avx512bw"}))
    assert not onednn.bf16_supported()
    assert onednn.bf16_supported({"avx512_bf16"})
    _one_line_error(lambda: precision.check("bfloat16", "onednn"), r"AVX-512 BF16.*expected")
    _one_line_error(lambda: jgan.models.get("dcgan", precision="bfloat16", conv_impl="onednn"),
                    r"precision 'bfloat16' on layer impl 'onednn'")
    x, w = jnp.zeros((1, 8, 8, 16), jnp.bfloat16), jnp.zeros((3, 3, 16, 4), jnp.bfloat16)
    _one_line_error(lambda: conv(x, w, (1, 1), "SAME", "onednn"), r"AVX-512 BF16")
    # "auto" takes jgan's XLA formulations instead, in bfloat16.
    y = jax.jit(lambda x, w: conv(x, w, (2, 2), "SAME", "auto"))(x, w)
    assert y.dtype == jnp.bfloat16
    precision.check("float32", "onednn")  # float32 needs nothing more.
