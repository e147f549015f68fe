"""Model registry, shapes and parameter counts."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
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


def test_seed_dcgan_width_scales_every_layer():
    w = 16  # G 64, 32, 16 channels; D 16, 32.
    g_vars, d_vars, images, _ = _init(*jgan.models.get("seed_dcgan", width=w), z_dim=100)
    assert images.shape == (2, 28, 28, 1)
    g_expected = (100 * 7 * 7 * 4 * w + 2 * 7 * 7 * 4 * w + 5 * 5 * 4 * w * 2 * w + 2 * 2 * w
                  + 5 * 5 * 2 * w * w + 2 * w + 5 * 5 * w * 1)
    d_expected = (5 * 5 * 1 * w + w) + (5 * 5 * w * 2 * w + 2 * w) + (7 * 7 * 2 * w + 1)
    assert (_count(g_vars["params"]), _count(d_vars["params"])) == (g_expected, d_expected)
    with pytest.raises(ValueError, match=r"seed_dcgan width 0; expected a positive integer"):
        jgan.models.get("seed_dcgan", width=0)


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
    with pytest.raises(ValueError, match=r"unknown model 'dcgan128'; expected one of \[.*'dcgan', "):
        jgan.models.get("dcgan128")


def test_unsupported_dcgan_resolution():
    with pytest.raises(ValueError, match="resolution 48 is not supported; expected 32 or 64"):
        jgan.models.get("dcgan", resolution=48)


def test_packed_d_judges_consecutive_rows_side_by_side():
    G, packed = jgan.models.get("mlp2d", pack=2, g_hidden=8, d_hidden=8)
    _, inner = jgan.models.get("mlp2d", g_hidden=8, d_hidden=8)
    points = jnp.arange(12.0).reshape(6, 2)
    d_vars = packed.init(jax.random.key(0), points, train=False)
    logits = packed.apply(d_vars, points, train=False)
    assert logits.shape == (3,)
    # Rows (0, 1), (2, 3), (4, 5) become 4-D inputs [x0, y0, x1, y1] of the wrapped D.
    by_hand = inner.apply({"params": d_vars["params"]["D"]}, points.reshape(3, 4), train=False)
    np.testing.assert_allclose(logits, by_hand, rtol=1e-6)
    # Images pack on channels: [B, H, W, C] -> [B/m, H, W, m·C].
    _, packed_cnn = jgan.models.get("dcgan", resolution=32, width=8, pack=4)
    images = jnp.zeros((8, 32, 32, 3))
    cnn_vars = packed_cnn.init(jax.random.key(0), images, train=False)
    assert cnn_vars["params"]["D"]["Conv_0"]["kernel"].shape[2] == 12
    assert packed_cnn.apply(cnn_vars, images, train=False).shape == (2,)


def test_packed_d_trains_and_rejects_bad_input():
    G, D = jgan.models.get("mlp2d", pack=4, g_hidden=8, d_hidden=8)
    state = jgan.create_state(jax.random.key(0), G, D, optax.adam(1e-3), optax.adam(1e-3),
                              z_dim=2, image_shape=(2,))
    state, metrics = jax.jit(jgan.make_train_step("hinge"))(state, {"image": jnp.ones((8, 2))})
    assert np.isfinite(metrics["d_loss"]) and int(state.step) == 1
    d_vars = {"params": state.d.params}
    with pytest.raises(ValueError, match="batch of 6 does not split into packs of 4"):
        D.apply(d_vars, jnp.ones((6, 2)), train=False)
    with pytest.raises(ValueError, match="a packed D is unconditional; got labels"):
        D.apply(d_vars, jnp.ones((8, 2)), jnp.zeros(8, jnp.int32), train=False)
    with pytest.raises(ValueError, match=r"pack=0; expected a positive integer"):
        jgan.models.get("mlp2d", pack=0)


def _shapes(module, *inputs):
    """The variables' shapes, without computing anything."""
    return jax.eval_shape(lambda: module.init(jax.random.key(0), *inputs, train=False))


@pytest.mark.parametrize("resolution", [32, 48, 64])
def test_sngan_maps_z_to_images_and_images_to_logits_at_every_resolution(resolution):
    G, D = jgan.models.get("sngan", resolution=resolution, channels=1, ngf=64, ndf=64)
    z = jnp.zeros((2, 128))
    images = jax.eval_shape(lambda v: G.apply(v, z, train=False), _shapes(G, z))
    assert images.shape == (2, resolution, resolution, 1)
    x = jnp.zeros(images.shape)
    logits = jax.eval_shape(lambda v: D.apply(v, x, train=False), _shapes(D, x))
    assert logits.shape == (2,)


def test_lucic_infogan_is_compare_gans_net():
    G, D = jgan.models.get("lucic_infogan")
    z, x = jnp.zeros((2, 64)), jnp.zeros((2, 28, 28, 1))
    g_vars, d_vars = _shapes(G, z), _shapes(D, x)
    # compare_gan's layers: weights + biases (+ BatchNorm's γ, β).
    g_expected = (64 * 1024 + 1024) + 2 * 1024 + (1024 * 6272 + 6272) + 2 * 6272 \
        + (4 * 4 * 128 * 64 + 64) + 2 * 64 + (4 * 4 * 64 * 1 + 1)
    d_expected = (4 * 4 * 1 * 64 + 64) + (4 * 4 * 64 * 128 + 128) + 2 * 128 \
        + (6272 * 1024 + 1024) + 2 * 1024 + (1024 + 1)
    assert _count(g_vars["params"]) == g_expected
    assert _count(d_vars["params"]) == d_expected
    _, no_bn = jgan.models.get("lucic_infogan", d_batchnorm=False)
    assert _count(_shapes(no_bn, x)["params"]) == d_expected - 2 * 128 - 2 * 1024
    z = jax.random.normal(jax.random.key(1), (2, 64))
    images = jax.jit(lambda: G.apply(G.init(jax.random.key(0), z, train=False), z,
                                     train=False))()
    assert images.shape == (2, 28, 28, 1)
    assert -1.0 <= float(images.min()) and float(images.max()) <= 1.0


@pytest.mark.parametrize("name", ["dcgan", "seed_dcgan", "mlp2d", "lucic_infogan"])
def test_spectral_norm_option_keeps_parameter_names_and_adds_the_vectors(name):
    kw = dict(resolution=32, channels=1, width=8) if name == "dcgan" else {}
    x = jnp.zeros((2, 2) if name == "mlp2d" else (2, 32 if name == "dcgan" else 28,
                                                   32 if name == "dcgan" else 28, 1))
    _, D = jgan.models.get(name, **kw)
    _, D_sn = jgan.models.get(name, spectral_norm=True, **kw)
    plain, wrapped = _shapes(D, x), _shapes(D_sn, x)
    assert jax.tree.structure(plain["params"]) == jax.tree.structure(wrapped["params"])
    assert "spectral_norm" not in plain and len(wrapped["spectral_norm"]) >= 3


def test_conditional_models_reject_missing_labels_and_labels_out_of_range():
    """Before any layer runs: no variables are needed to see the error."""
    G, D = jgan.models.get("cgan_pd", num_classes=3, channels=1, ngf=8, ndf=8)
    z, x = jnp.zeros((2, 128)), jnp.zeros((2, 32, 32, 1))
    for module, inputs in ((G, z), (D, x)):
        with pytest.raises(ValueError, match=r"is class-conditional \(3 classes\): labels \[B\] "
                                             r"are required, got None(\n|$)"):
            module.init(jax.random.key(0), inputs, None, train=False)
        with pytest.raises(ValueError, match=r"got label 3; expected labels in \[0, 3\)(\n|$)"):
            module.init(jax.random.key(0), inputs, jnp.array([0, 3]), train=False)
    G, _ = jgan.models.get("dcgan", resolution=32, width=8, num_classes=10)
    with pytest.raises(ValueError, match=r"dcgan's G is class-conditional \(10 classes\)"):
        G.init(jax.random.key(0), jnp.zeros((1, 100)), None, train=False)


def test_resnet_gan_bad_options_are_named():
    with pytest.raises(ValueError, match=r"resolution 40 is not supported; expected one of "
                                         r"\[32, 48, 64\]"):
        jgan.models.get("sngan", resolution=40)
    with pytest.raises(ValueError, match=r"num_classes=0; expected a positive integer"):
        jgan.models.get("cgan_pd", num_classes=0)
    with pytest.raises(ValueError, match=r"image_shape \(30, 30, 1\); expected \(H, W, C\)"):
        jgan.models.get("lucic_infogan", image_shape=(30, 30, 1))
