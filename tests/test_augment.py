"""DiffAugment: the ops keep shapes and ranges, an empty policy is the identity, gradients reach
G through them, the step augments what D sees, a user's own augmentation plugs in, bad input."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jgan
from jgan import augment

from conftest import exit_message

X = jax.random.uniform(jax.random.key(0), (6, 16, 12, 3), minval=-1.0, maxval=1.0)
KEY = jax.random.key(1)


@pytest.mark.parametrize("name", ["color", "translation", "cutout"])
def test_ops_keep_shapes_and_are_random_per_example(name):
    out = augment.AUGMENTATIONS.get(name)(KEY, X)
    assert out.shape == X.shape and out.dtype == X.dtype
    changed = [not np.array_equal(out[i], X[i]) for i in range(len(X))]
    assert sum(changed) >= 4, changed  # Translation may draw a zero shift for a few images.
    again = augment.AUGMENTATIONS.get(name)(jax.random.key(2), X)
    assert not np.array_equal(out, again)


def test_translation_and_cutout_keep_values_in_range_and_move_or_zero_pixels():
    for name in ("translation", "cutout"):
        out = np.asarray(augment.AUGMENTATIONS.get(name)(KEY, X))
        assert out.min() >= min(float(X.min()), 0.0) and out.max() <= max(float(X.max()), 0.0)
        values = set(np.round(np.asarray(X), 6).ravel()) | {0.0}
        assert set(np.round(out, 6).ravel()) <= values, name  # Pixels moved or zeroed, not mixed.
    cut = np.asarray(augment.cutout(KEY, X))
    zeroed = (cut == 0).all(axis=-1).sum(axis=(1, 2))
    # A square of half the size, clipped at the borders: at most 8 × 6 pixels, at least a quarter.
    assert np.all(zeroed <= 8 * 6) and np.all(zeroed >= 4 * 3), zeroed


def _shifted(image, dh, dw):
    """`image` moved by (dh, dw) pixels (content at (i, j) comes from (i + dh, j + dw)), zero-filled."""
    H, W = image.shape[:2]
    out = np.zeros_like(image)
    rows, cols = np.arange(H) + dh, np.arange(W) + dw
    ok_r, ok_c = (rows >= 0) & (rows < H), (cols >= 0) & (cols < W)
    out[np.ix_(ok_r, ok_c)] = image[np.ix_(rows[ok_r], cols[ok_c])]
    return out


def test_translation_is_a_zero_filled_shift_of_at_most_an_eighth():
    out, x = np.asarray(augment.translation(KEY, X)), np.asarray(X)
    shifts = []
    for b in range(len(x)):  # H = 16, W = 12: shifts of up to 2 and 2 (an eighth, rounded).
        found = [(dh, dw) for dh in range(-2, 3) for dw in range(-2, 3)
                 if np.array_equal(out[b], _shifted(x[b], dh, dw))]
        assert found, f"image {b} is not a zero-filled shift of its input"
        shifts.append(found[0])
    assert len(set(shifts)) > 1, shifts


def test_color_ops_stay_within_the_bounds_their_definitions_give():
    lo, hi = float(X.min()), float(X.max())
    bright = augment.brightness(KEY, X)
    assert bright.min() >= lo - 0.5 and bright.max() <= hi + 0.5
    shift = bright - X  # One offset per example.
    np.testing.assert_allclose(shift, jnp.broadcast_to(shift[:, :1, :1, :1], X.shape), atol=1e-6)
    # Spread around a mean m ∈ [lo, hi] scaled by s < 2: within [2·lo − hi, 2·hi − lo].
    sat = augment.saturation(KEY, X)
    assert sat.min() >= 2 * lo - hi - 1e-6 and sat.max() <= 2 * hi - lo + 1e-6
    np.testing.assert_allclose(sat.mean(-1), X.mean(-1), atol=1e-5)  # Channel means kept.
    # One factor s ∈ [0, 2) per example scales each pixel's spread around its channel mean.
    spread_in, spread_out = X - X.mean(-1, keepdims=True), sat - X.mean(-1, keepdims=True)
    s = (spread_in * spread_out).sum((1, 2, 3)) / (spread_in ** 2).sum((1, 2, 3))
    np.testing.assert_allclose(spread_out, s[:, None, None, None] * spread_in, atol=1e-5)
    assert np.all(s >= 0) and np.all(s < 2) and len(set(np.round(np.asarray(s), 4))) > 1, s
    con = augment.contrast(KEY, X)
    np.testing.assert_allclose(con.mean((1, 2, 3)), X.mean((1, 2, 3)), atol=1e-5)
    spread = lambda x: x.std(axis=(1, 2, 3))
    ratio = spread(con) / spread(X)
    assert np.all(ratio >= 0.5 - 1e-5) and np.all(ratio <= 1.5 + 1e-5), ratio


def test_empty_policy_is_the_identity_and_the_step_is_unchanged():
    assert augment.policy("") == augment.policy(None) == ()
    assert augment.apply((), KEY, X) is X
    state = _state()
    a = jax.jit(jgan.make_train_step("hinge"))(state, _batch())
    b = jax.jit(jgan.make_train_step("hinge", augment=""))(state, _batch())
    jax.tree.map(np.testing.assert_array_equal, a, b)


def test_policy_string_applies_the_ops_in_order_with_folded_keys():
    ops = augment.policy("translation, cutout")
    assert ops == (augment.translation, augment.cutout)
    expected = augment.cutout(jax.random.fold_in(KEY, 1),
                              augment.translation(jax.random.fold_in(KEY, 0), X))
    np.testing.assert_array_equal(augment.apply(ops, KEY, X), expected)


@pytest.mark.parametrize("name", ["color", "translation", "cutout"])
def test_gradients_pass_through_every_op(name):
    weights = jax.random.normal(jax.random.key(3), X.shape)
    grads = jax.grad(lambda x: jnp.sum(augment.AUGMENTATIONS.get(name)(KEY, x) * weights))(X)
    assert float(jnp.abs(grads).sum()) > 0 and np.all(np.isfinite(grads))


# A tiny image GAN written in the test, as a user would (the module protocol): one dense layer
# for G, a convolution and a dense layer for D, so each step compiles in about a second.
Z_DIM, SHAPE, B = 8, (8, 8, 1), 4


class _G(nn.Module):
    @nn.compact
    def __call__(self, z_BxZ, labels=None, *, train: bool):
        return jnp.tanh(nn.Dense(64)(z_BxZ)).reshape(-1, *SHAPE)


class _D(nn.Module):
    @nn.compact
    def __call__(self, x_BxHxWxC, labels=None, *, train: bool):
        h = nn.leaky_relu(nn.Conv(4, (3, 3))(x_BxHxWxC), 0.2)
        return nn.Dense(1)(h.reshape(h.shape[0], -1))[:, 0]


def _state():
    tx = optax.adam(1e-3, 0.5)
    return jgan.create_state(jax.random.key(0), _G(), _D(), tx, tx, z_dim=Z_DIM, image_shape=SHAPE)


def _batch():
    return {"image": jax.random.uniform(jax.random.key(5), (B, *SHAPE), minval=-1.0)}


def test_g_learns_through_the_augmentation_and_d_sees_augmented_images():
    """With an op that zeroes every image, D cannot tell real from fake and G gets no gradient:
    so both players' passes go through the policy."""
    blank = lambda key, x: x * 0.0
    state, metrics = jax.jit(jgan.make_train_step("hinge", augment=blank))(_state(), _batch())
    assert float(metrics["g_grad_norm"]) == 0.0
    np.testing.assert_allclose(metrics["d_real_logit"], metrics["d_fake_logit"], rtol=1e-6)
    _, plain = jax.jit(jgan.make_train_step("hinge"))(_state(), _batch())
    assert float(plain["g_grad_norm"]) > 0.0
    _, diff = jax.jit(jgan.make_train_step("hinge", augment="color,translation,cutout"))(
        _state(), _batch())
    assert float(diff["g_grad_norm"]) > 0.0 and float(diff["d_loss"]) != float(plain["d_loss"])


def test_a_user_written_augmentation_plugs_in():
    """Written as a user would, in this file: a horizontal flip of every other step's images."""
    calls = []

    def flip(key, x_BxHxWxC):
        calls.append(x_BxHxWxC.shape)
        coin = jax.random.bernoulli(key, 0.5, (x_BxHxWxC.shape[0], 1, 1, 1))
        return jnp.where(coin, x_BxHxWxC[:, :, ::-1], x_BxHxWxC)

    step = jax.jit(jgan.make_train_step("hinge", augment=["translation", flip]))
    _, metrics = step(_state(), _batch())
    assert len(calls) == 3  # Real and fake in D's update, fake in G's.
    assert all(shape == (B, *SHAPE) for shape in calls)
    _, plain = jax.jit(jgan.make_train_step("hinge", augment="translation"))(_state(), _batch())
    assert float(metrics["d_loss"]) != float(plain["d_loss"])


def test_unknown_op_and_wrong_shapes_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown augmentation 'flip'; expected one of "
                                         r"\['color', 'cutout', 'translation'\]"):
        augment.policy("color,flip")
    with pytest.raises(ValueError, match=r"augmentation 'translation' needs images"):
        augment.translation(KEY, jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match="turned shape"):
        augment.apply((lambda key, x: x[:, :4],), KEY, X)
    message = exit_message(["jgan", "train", "--config", "ring2d:tiny", "--workdir",
                            str(tmp_path), "--config.loss.augment=color,flip"])
    assert message.startswith("error: unknown augmentation 'flip'"), message
    message = exit_message(["jgan", "train", "--config", "ring2d:tiny", "--workdir",
                            str(tmp_path), "--config.loss.augment=color"])
    assert "needs images; config.model.image_shape is (2,)" in message, message
    assert not (tmp_path / "checkpoints").exists()
