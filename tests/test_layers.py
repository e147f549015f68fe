"""The fast (transposed) convolutions equal lax/Flax's, in values and all gradients."""
import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import jgan
from jgan import layers

DN = ("NHWC", "HWIO", "NHWC")
# Stride 1 is a plain convolution on both paths; odd and even kernels, kernels smaller than and
# larger than the stride, and non-square inputs are what the phase decomposition must get right.
# The kernel gradient is always blocked; the forward pass is sub-pixel for 16 output features and
# blocked for 3 and 1 (the input gradient is lax's either way): both sides of the threshold.
CASES = [(*case, 16) for case in itertools.product(
    [(5, 6)], [2, 4, 5], [2, 3], ["SAME", "VALID", ((1, 0), (0, 1))])]
CASES += [((5, 6), 5, 2, "SAME", 3), ((4, 4), 4, 2, "SAME", 1)]


def _rel_err(a, b):
    return float(jnp.max(jnp.abs(a - b)) / (jnp.max(jnp.abs(b)) + 1e-12))


@pytest.mark.parametrize("hw,k,s,padding,features", CASES)
def test_fast_conv_transpose_matches_reference_values_and_gradients(hw, k, s, padding, features):
    key = jax.random.key(k * 10 + s)
    x = jax.random.normal(key, (2, *hw, 3))
    w = jax.random.normal(jax.random.fold_in(key, 1), (k, k, 3, features))
    reference = lambda x, w: lax.conv_transpose(x, w, (s, s), padding, dimension_numbers=DN)
    fast = lambda x, w: layers.conv_transpose(x, w, (s, s), padding, impl="fast")
    y_ref, vjp_ref = jax.vjp(reference, x, w)
    y_fast, vjp_fast = jax.vjp(fast, x, w)
    assert y_fast.shape == y_ref.shape
    assert _rel_err(y_fast, y_ref) <= 1e-5
    cotangent = jax.random.normal(jax.random.fold_in(key, 2), y_ref.shape)
    for g_fast, g_ref in zip(vjp_fast(cotangent), vjp_ref(cotangent)):
        assert _rel_err(g_fast, g_ref) <= 1e-5


# A strided convolution's input gradient goes through the fast transposed convolution (sub-pixel
# for 16 input channels, blocked for 3): 'SAME' with odd and even kernels, 'VALID', uneven
# explicit pads, stride 3, non-square inputs.
CONV_CASES = [((14, 14), 5, 2, "SAME", 16), ((16, 15), 4, 2, "SAME", 16), ((9, 8), 3, 2, "VALID", 16),
              ((8, 8), 4, 3, ((1, 2), (0, 1)), 16), ((14, 13), 5, 2, "SAME", 3),
              ((8, 8), 4, 3, ((1, 2), (0, 1)), 3)]


@pytest.mark.parametrize("hw,k,s,padding,cin", CONV_CASES)
def test_fast_conv_matches_reference_values_and_gradients(hw, k, s, padding, cin):
    key = jax.random.key(k * 10 + s)
    x = jax.random.normal(key, (2, *hw, cin))
    w = jax.random.normal(jax.random.fold_in(key, 1), (k, k, cin, 5))
    reference = lambda x, w: lax.conv_general_dilated(x, w, (s, s), padding, dimension_numbers=DN)
    fast = lambda x, w: layers.conv(x, w, (s, s), padding, impl="fast")
    y_ref, vjp_ref = jax.vjp(reference, x, w)
    y_fast, vjp_fast = jax.vjp(fast, x, w)
    assert _rel_err(y_fast, y_ref) <= 1e-5
    cotangent = jax.random.normal(jax.random.fold_in(key, 2), y_ref.shape)
    for g_fast, g_ref in zip(vjp_fast(cotangent), vjp_ref(cotangent)):
        assert g_fast.shape == g_ref.shape and _rel_err(g_fast, g_ref) <= 1e-5


def test_conv_layer_matches_flax_conv_with_the_same_parameters():
    x = jax.random.normal(jax.random.key(0), (2, 14, 14, 16))
    flax_layer = nn.Conv(8, (5, 5), strides=(2, 2), padding="SAME")
    params = jax.tree.map(lambda p: p + 0.1, flax_layer.init(jax.random.key(1), x))
    ours = layers.Conv(8, (5, 5), strides=(2, 2), padding="SAME", impl="fast")
    assert jax.tree.map(jnp.shape, ours.init(jax.random.key(1), x)) == jax.tree.map(jnp.shape, params)

    def loss(module, params, x):
        return jnp.sum(jnp.sin(module.apply(params, x)))

    (v_ref, g_ref), (v_fast, g_fast) = (jax.value_and_grad(loss, argnums=(1, 2))(m, params, x)
                                        for m in (flax_layer, ours))
    np.testing.assert_allclose(v_fast, v_ref, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(g_fast), jax.tree.leaves(g_ref), strict=True):
        assert _rel_err(a, b) <= 1e-5


def test_layer_matches_flax_conv_transpose_with_the_same_parameters():
    x = jax.random.normal(jax.random.key(0), (2, 7, 7, 8))
    flax_layer = nn.ConvTranspose(4, (4, 4), strides=(2, 2), padding="SAME")
    params = flax_layer.init(jax.random.key(1), x)
    params = jax.tree.map(lambda p: p + 0.1, params)  # A non-zero bias too.
    ours = layers.ConvTranspose(4, (4, 4), strides=(2, 2), padding="SAME", impl="fast")
    assert jax.tree.map(jnp.shape, ours.init(jax.random.key(1), x)) == jax.tree.map(jnp.shape, params)

    def loss(module, params):
        return jnp.sum(jnp.sin(module.apply(params, x)))

    (v_ref, g_ref), (v_fast, g_fast) = (jax.value_and_grad(loss, argnums=1)(m, params)
                                        for m in (flax_layer, ours))
    np.testing.assert_allclose(v_fast, v_ref, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(g_fast), jax.tree.leaves(g_ref)):
        assert _rel_err(a, b) <= 1e-5


@pytest.mark.parametrize("name,kwargs,z_dim", [("seed_dcgan", {}, 100),
                                                ("dcgan", dict(resolution=32, width=8), 16)])
def test_models_give_the_same_images_on_either_path(name, kwargs, z_dim):
    G_fast, _ = jgan.models.get(name, conv_impl="fast", **kwargs)
    G_ref, _ = jgan.models.get(name, conv_impl="reference", **kwargs)
    z = jax.random.normal(jax.random.key(0), (4, z_dim))
    variables = G_fast.init(jax.random.key(1), z, train=False)  # One parameter tree for both.
    np.testing.assert_allclose(G_fast.apply(variables, z, train=False),
                               G_ref.apply(variables, z, train=False), rtol=1e-5, atol=1e-6)


def test_unknown_impl_is_rejected():
    with pytest.raises(ValueError, match="unknown convolution impl 'fastest'"):
        layers.conv_transpose(jnp.zeros((1, 2, 2, 1)), jnp.zeros((2, 2, 1, 1)), (2, 2), "SAME",
                              impl="fastest")
