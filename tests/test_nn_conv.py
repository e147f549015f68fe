"""The fast (transposed) convolutions equal lax/Flax's, in values and all gradients."""
import functools
import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import jgan
from jax.extend.random import threefry_2x32
from jgan import nn as layers
from jgan.nn import dropout

DN = ("NHWC", "HWIO", "NHWC")
# jgan's two CPU paths: oneDNN's convolutions, and the XLA formulations (the fallback without it).
IMPLS = ["onednn", "xla_cpu"]
# Stride 1 is a plain convolution on both paths; odd and even kernels, kernels smaller than and
# larger than the stride, and non-square inputs are what the phase decomposition and im2col must
# get right. 16 output features take the custom VJP (sub-pixel forward, lax input gradient, kernel
# gradient as a strided convolution's), 3 and 1 the matrix-product path (col2im forward, im2col
# gradients): both sides of the threshold, in every geometry. Padding wider than the kernel makes
# the kernel-gradient convolution's padding (k − 1 − lo) negative.
CASES = [(*case, features) for case in itertools.product(
    [(5, 6)], [2, 4, 5], [2, 3], ["SAME", "VALID", ((1, 0), (0, 1))]) for features in (16, 3)]
CASES += [((4, 4), 4, 2, "SAME", 1), ((5, 6), 2, 3, ((4, 1), (0, 5)), 16)]


def _assert_values_and_gradients_match(reference, fast, x, w, key):
    """fast(x, w) equals reference(x, w), and so do their gradients for a random cotangent; each
    side compiled as one program (not op by op)."""
    cotangent = jax.random.normal(key, jax.eval_shape(reference, x, w).shape)

    def value_and_vjp(f, x, w, cotangent):
        y, vjp = jax.vjp(f, x, w)
        return (y, *vjp(cotangent))
    (y_ref, *grads_ref), (y_fast, *grads_fast) = (
        jax.jit(functools.partial(value_and_vjp, f))(x, w, cotangent) for f in (reference, fast))
    assert y_fast.shape == y_ref.shape and _rel_err(y_fast, y_ref) <= 1e-5
    for g_fast, g_ref in zip(grads_fast, grads_ref, strict=True):
        assert g_fast.shape == g_ref.shape and _rel_err(g_fast, g_ref) <= 1e-5


def _rel_err(a, b):
    return float(jnp.max(jnp.abs(a - b)) / (jnp.max(jnp.abs(b)) + 1e-12))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("hw,k,s,padding,features", CASES)
def test_fast_conv_transpose_matches_reference_values_and_gradients(hw, k, s, padding, features,
                                                                    impl):
    key = jax.random.key(k * 10 + s)
    x = jax.random.normal(key, (2, *hw, 3))
    w = jax.random.normal(jax.random.fold_in(key, 1), (k, k, 3, features))
    reference = lambda x, w: lax.conv_transpose(x, w, (s, s), padding, dimension_numbers=DN)
    fast = lambda x, w: layers.conv_transpose(x, w, (s, s), padding, impl=impl)
    _assert_values_and_gradients_match(reference, fast, x, w, jax.random.fold_in(key, 2))


# A strided convolution's input gradient goes through the fast transposed convolution (sub-pixel
# for 16 input channels, col2im for 3): 'SAME' with odd and even kernels, 'VALID', uneven
# explicit pads, stride 3, non-square inputs.
CONV_CASES = [((14, 14), 5, 2, "SAME", 16), ((16, 15), 4, 2, "SAME", 16), ((9, 8), 3, 2, "VALID", 16),
              ((8, 8), 4, 3, ((1, 2), (0, 1)), 16), ((14, 13), 5, 2, "SAME", 3),
              ((9, 8), 3, 2, "VALID", 3), ((8, 8), 4, 3, ((1, 2), (0, 1)), 3)]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("hw,k,s,padding,cin", CONV_CASES)
def test_fast_conv_matches_reference_values_and_gradients(hw, k, s, padding, cin, impl):
    key = jax.random.key(k * 10 + s)
    x = jax.random.normal(key, (2, *hw, cin))
    w = jax.random.normal(jax.random.fold_in(key, 1), (k, k, cin, 5))
    reference = lambda x, w: lax.conv_general_dilated(x, w, (s, s), padding, dimension_numbers=DN)
    fast = lambda x, w: layers.conv(x, w, (s, s), padding, impl=impl)
    _assert_values_and_gradients_match(reference, fast, x, w, jax.random.fold_in(key, 2))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("op,channels", [("conv", 3), ("conv", 16), ("conv_transpose", 3),
                                         ("conv_transpose", 16)])
def test_gradients_of_gradients_match_the_reference(op, channels, impl):
    """What R1 and WGAN-GP differentiate: the input gradient's norm, w.r.t. input and kernel."""
    key = jax.random.key(channels)
    x = jax.random.normal(key, (2, 8, 7, channels if op == "conv" else 4))
    w = jax.random.normal(jax.random.fold_in(key, 1),
                          (4, 4, x.shape[-1], 5 if op == "conv" else channels))
    reference = {"conv": lambda x, w: lax.conv_general_dilated(x, w, (2, 2), "SAME",
                                                               dimension_numbers=DN),
                 "conv_transpose": lambda x, w: lax.conv_transpose(x, w, (2, 2), "SAME",
                                                                   dimension_numbers=DN)}[op]
    fast = lambda x, w: getattr(layers, op)(x, w, (2, 2), "SAME", impl=impl)

    def penalty(f, x, w):
        g = jax.grad(lambda x: jnp.sum(jnp.sin(f(x, w))))(x)
        return jnp.sum(g ** 2)

    for g_fast, g_ref in zip(jax.grad(penalty, (1, 2))(fast, x, w),
                             jax.grad(penalty, (1, 2))(reference, x, w)):
        assert _rel_err(g_fast, g_ref) <= 1e-5


@pytest.mark.parametrize("impl", IMPLS)
def test_conv_layer_matches_flax_conv_with_the_same_parameters(impl):
    x = jax.random.normal(jax.random.key(0), (2, 14, 14, 16))
    flax_layer = nn.Conv(8, (5, 5), strides=(2, 2), padding="SAME")
    params = jax.tree.map(lambda p: p + 0.1, flax_layer.init(jax.random.key(1), x))
    ours = layers.Conv(8, (5, 5), strides=(2, 2), padding="SAME", impl=impl)
    assert jax.tree.map(jnp.shape, ours.init(jax.random.key(1), x)) == jax.tree.map(jnp.shape, params)

    def loss(module, params, x):
        return jnp.sum(jnp.sin(module.apply(params, x)))

    (v_ref, g_ref), (v_fast, g_fast) = (jax.value_and_grad(loss, argnums=(1, 2))(m, params, x)
                                        for m in (flax_layer, ours))
    np.testing.assert_allclose(v_fast, v_ref, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(g_fast), jax.tree.leaves(g_ref), strict=True):
        assert _rel_err(a, b) <= 1e-5


@pytest.mark.parametrize("impl", IMPLS)
def test_layer_matches_flax_conv_transpose_with_the_same_parameters(impl):
    x = jax.random.normal(jax.random.key(0), (2, 7, 7, 8))
    flax_layer = nn.ConvTranspose(4, (4, 4), strides=(2, 2), padding="SAME")
    params = flax_layer.init(jax.random.key(1), x)
    params = jax.tree.map(lambda p: p + 0.1, params)  # A non-zero bias too.
    ours = layers.ConvTranspose(4, (4, 4), strides=(2, 2), padding="SAME", impl=impl)
    assert jax.tree.map(jnp.shape, ours.init(jax.random.key(1), x)) == jax.tree.map(jnp.shape, params)

    def loss(module, params):
        return jnp.sum(jnp.sin(module.apply(params, x)))

    (v_ref, g_ref), (v_fast, g_fast) = (jax.value_and_grad(loss, argnums=1)(m, params)
                                        for m in (flax_layer, ours))
    np.testing.assert_allclose(v_fast, v_ref, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(g_fast), jax.tree.leaves(g_ref)):
        assert _rel_err(a, b) <= 1e-5


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name,kwargs,z_dim", [("seed_dcgan", {}, 100),
                                                ("dcgan", dict(resolution=32, width=8), 16)])
def test_models_give_the_same_images_on_either_path(name, kwargs, z_dim, impl):
    G_fast, _ = jgan.models.get(name, conv_impl=impl, **kwargs)
    G_ref, _ = jgan.models.get(name, conv_impl="lax", **kwargs)
    z = jax.random.normal(jax.random.key(0), (4, z_dim))
    variables = G_fast.init(jax.random.key(1), z, train=False)  # One parameter tree for both.
    np.testing.assert_allclose(G_fast.apply(variables, z, train=False),
                               G_ref.apply(variables, z, train=False), rtol=1e-5, atol=1e-6)


# Both sides of the 16-channel thresholds: a Conv's input gradient (col2im / sub-pixel or oneDNN)
# and a transposed layer's three passes (im2col and col2im / sub-pixel, lax and swapped).
FORWARD_MODE_CASES = [("Conv", 3), ("Conv", 16), ("ConvTranspose", 3), ("ConvTranspose", 16)]


def _layer_case(layer, channels, impl):
    """A stride-2 layer (`channels` in for a Conv, out for a ConvTranspose), lax's twin, its
    parameters (bias non-zero) and an input."""
    features = 4 if layer == "Conv" else channels
    make = lambda impl: getattr(layers, layer)(features, (4, 4), strides=(2, 2), padding="SAME",
                                               impl=impl)
    x = jax.random.normal(jax.random.key(channels), (2, 5, 4, channels if layer == "Conv" else 4))
    params = jax.tree.map(lambda p: p + 0.1, make("lax").init(jax.random.key(1), x))
    return make(impl), make("lax"), params, x


def _assert_trees_close(ours, ref):
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref), strict=True):
        assert a.shape == b.shape and _rel_err(a, b) <= 1e-5


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("layer,channels", FORWARD_MODE_CASES)
def test_forward_mode_matches_lax(layer, channels, impl):
    """jvp, linearize and jacfwd through a layer, and forward-over-reverse (a Hessian-vector
    product): lax's numbers on every CPU path (jitted: one compile per transformation)."""
    ours, ref, params, x = _layer_case(layer, channels, impl)
    tangents = jax.tree.map(lambda p: jnp.cos(jnp.arange(p.size, dtype=p.dtype).reshape(p.shape)),
                            (params, x))
    apply = lambda module: lambda params, x: module.apply(params, x)
    grad = lambda module: jax.grad(lambda p, x: jnp.sum(jnp.sin(apply(module)(p, x))), (0, 1))
    transforms = [
        lambda module: jax.jvp(apply(module), (params, x), tangents),
        lambda module: jax.linearize(apply(module), params, x)[1](*tangents),
        # jacfwd pushes a basis of input tangents through vmap, folded into the batch.
        lambda module: jax.jacfwd(apply(module), 1)(params, x[:1]),
        lambda module: jax.jvp(grad(module), (params, x), tangents)[1],
    ]
    for transform in transforms:
        _assert_trees_close(jax.jit(transform, static_argnums=0)(ours),
                            jax.jit(transform, static_argnums=0)(ref))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("batched", ["x", "w", "both"])
def test_vmap_of_every_pass_matches_lax(batched, impl):
    """Batched activations fold into the convolution's batch; batched kernels run one by one."""
    key = jax.random.key(0)
    x = jax.random.normal(key, (3, 2, 6, 6, 4) if batched != "w" else (2, 6, 6, 4))
    w = jax.random.normal(jax.random.fold_in(key, 1),
                          (3, 3, 3, 4, 8) if batched != "x" else (3, 3, 4, 8))
    axes = {"x": (0, None), "w": (None, 0), "both": (0, 0)}[batched]

    def passes(conv):
        def f(x, w):
            y, vjp = jax.vjp(conv, x, w)
            return (y, *vjp(jnp.sin(y)))
        return jax.vmap(f, axes)

    ours = jax.jit(passes(lambda x, w: layers.conv(x, w, (2, 2), "SAME", impl=impl)))(x, w)
    ref = jax.jit(passes(lambda x, w: lax.conv_general_dilated(x, w, (2, 2), "SAME",
                                                               dimension_numbers=DN)))(x, w)
    _assert_trees_close(ours, ref)


@pytest.mark.parametrize("channels", [3, 16])
def test_xla_cpu_transposed_convolution_never_dilates_its_input(channels):
    """Reverse mode and forward-over-reverse keep jgan's formulations: no input-dilated
    (lhs_dilate) convolution, XLA:CPU's slow path, in the compiled gradients."""
    ours, _, params, x = _layer_case("ConvTranspose", channels, "xla_cpu")
    grad = jax.grad(lambda p, x: jnp.sum(jnp.sin(ours.apply(p, x))), (0, 1))
    hvp = lambda p, x: jax.jvp(grad, (p, x), (p, x))[1]
    for f in (grad, hvp):
        hlo = jax.jit(f).lower(params, x).compile().as_text()
        assert "convolution(" in hlo or "dot(" in hlo
        assert "lhs_dilate" not in hlo


def test_unknown_impl_is_rejected():
    with pytest.raises(ValueError, match="unknown layer impl 'fastest'"):
        layers.conv_transpose(jnp.zeros((1, 2, 2, 1)), jnp.zeros((2, 2, 1, 1)), (2, 2), "SAME",
                              impl="fastest")


def test_threefry_is_jaxs_bit_for_bit():
    key = jnp.array([0x12345678, 0x9ABCDEF0], jnp.uint32)
    count = jnp.arange(1000, dtype=jnp.uint32)
    x0, x1 = dropout.threefry2x32(key[0], key[1], count[:500], count[500:])
    np.testing.assert_array_equal(jnp.concatenate([x0, x1]), threefry_2x32(key, count))


def _dropout(x, rate=0.3, key=0, **kwargs):
    return layers.Dropout(rate, **kwargs).apply({}, x, deterministic=False,
                                                rngs={"dropout": jax.random.key(key)})


def test_dropout_draws_are_uniform_and_independent():
    draws = np.asarray(dropout._uniform16(jax.random.key(0), (400_001,)))
    assert draws.max() < 2 ** 16
    # Chi-square over 64 bins (63 degrees of freedom; 120 is exceeded with probability ~1e-5).
    counts = np.bincount(draws >> 10, minlength=64)
    expected = draws.size / 64
    assert np.sum((counts - expected) ** 2 / expected) < 120
    # The four draws of one hash are uncorrelated (|r| ~ 1/sqrt(1e5) = 0.003 by chance).
    lanes = draws[:400_000].reshape(-1, 4).T.astype(float)
    assert np.all(np.abs(np.corrcoef(lanes)[np.triu_indices(4, 1)]) < 0.02)


def test_dropout_keeps_the_rate_and_the_mean():
    x = jnp.ones((200, 50, 10))
    y = np.asarray(_dropout(x))
    kept = y != 0
    # 1e5 Bernoulli(0.7) draws: standard deviation 1.45e-3; 5 of them is the bound.
    assert abs(kept.mean() - 0.7) < 0.0073
    # Kept values are scaled by the inverse of the exact keep probability, 45875 / 2^16.
    np.testing.assert_array_equal(y[kept], np.float32(2 ** 16 / 45875))
    assert abs(y.mean() - 1.0) < 0.0073 / 0.7


def test_dropout_masks_follow_the_key_and_broadcast_dims():
    x = jnp.ones((64, 8, 8, 4))
    np.testing.assert_array_equal(_dropout(x, key=1), _dropout(x, key=1))
    assert np.mean(np.asarray(_dropout(x, key=1)) != np.asarray(_dropout(x, key=2))) > 0.3
    y = np.asarray(_dropout(x, broadcast_dims=(1, 2)))
    assert np.all(y == y[:, :1, :1, :]) and 0 < np.mean(y != 0) < 1


def test_dropout_edge_rates_and_bad_rate():
    x = jnp.arange(1.0, 7.0)
    np.testing.assert_array_equal(_dropout(x, rate=0.0), x)
    np.testing.assert_array_equal(_dropout(x, rate=1.0), jnp.zeros_like(x))
    np.testing.assert_array_equal(layers.Dropout(0.5).apply({}, x, deterministic=True), x)
    with pytest.raises(ValueError, match="dropout rate 1.5; expected a number in"):
        _dropout(x, rate=1.5)
