"""Model registry, shapes and parameter counts."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jgan


def _init(G, D, z_dim, labels=None):
    z = jax.random.normal(jax.random.key(0), (2, z_dim))
    g_vars = G.init(jax.random.key(1), z, labels, train=False)
    images = G.apply(g_vars, z, labels, train=False)
    d_vars = D.init(jax.random.key(2), images, labels, train=False)
    return g_vars, d_vars, images, D.apply(d_vars, images, labels, train=False)


def _count(tree):
    return sum(x.size for x in jax.tree.leaves(tree))


def test_seed_dcgan_is_the_tutorial_model():
    g_vars, d_vars, images, logits = _init(*jgan.models.get("seed_dcgan"), z_dim=100)
    assert images.shape == (2, 28, 28, 1) and logits.shape == (2,)
    assert float(jnp.abs(images).max()) <= 1.0
    # Trainable parameters layer by layer (no biases in G; BatchNorm has scale and offset).
    g_expected = (100 * 7 * 7 * 256 + 2 * 7 * 7 * 256 + 5 * 5 * 256 * 128 + 2 * 128
                  + 5 * 5 * 128 * 64 + 2 * 64 + 5 * 5 * 64 * 1)
    d_expected = (5 * 5 * 1 * 64 + 64) + (5 * 5 * 64 * 128 + 128) + (7 * 7 * 128 + 1)
    assert (_count(g_vars["params"]), _count(d_vars["params"])) == (g_expected, d_expected)
    assert (g_expected, d_expected) == (2_305_472, 212_865)  # The Keras tutorial's summary().


@pytest.mark.parametrize("resolution,channels", [(32, 3), (64, 1)])
def test_dcgan_shapes(resolution, channels):
    G, D = jgan.models.get("dcgan", resolution=resolution, channels=channels, width=8)
    _, _, images, logits = _init(G, D, z_dim=16)
    assert images.shape == (2, resolution, resolution, channels) and logits.shape == (2,)


def test_conditional_dcgan_depends_on_labels():
    G, D = jgan.models.get("dcgan", resolution=32, width=8, num_classes=10)
    g_vars, d_vars, _, _ = _init(G, D, z_dim=16, labels=jnp.array([0, 1]))
    z = jnp.ones((2, 16))
    a = G.apply(g_vars, z, jnp.array([0, 0]), train=False)
    b = G.apply(g_vars, z, jnp.array([3, 3]), train=False)
    assert not np.allclose(a, b)
    assert not np.allclose(D.apply(d_vars, a, jnp.array([0, 0]), train=False),
                           D.apply(d_vars, a, jnp.array([5, 5]), train=False))


def test_mlp2d_shapes():
    _, _, points, logits = _init(*jgan.models.get("mlp2d"), z_dim=2)
    assert points.shape == (2, 2) and logits.shape == (2,)


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown model 'dcgan128'; expected one of \['dcgan', "):
        jgan.models.get("dcgan128")


def test_unsupported_dcgan_resolution():
    with pytest.raises(ValueError, match="resolution 48 is not supported; expected 32 or 64"):
        jgan.models.get("dcgan", resolution=48)
