"""Pictures: upscaled grids, class rows, latent interpolations, class × seed grids, the run's gif."""
import shutil

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from PIL import Image

import jgan
from jgan import sampling
from jgan.run import checkpoint, cli, loop, plots, writers

from conftest import REPO

NUM_CLASSES = 3


class _LabelPainter(nn.Module):
    """A conditional G whose 8×8 image is filled with its label's grey level (used for testing
    only): label k -> -1 + k."""

    @nn.compact
    def __call__(self, z_BxZ, labels=None, *, train):
        bias = nn.Dense(1)(z_BxZ)[:, :, None, None] * 0.0  # A parameter, contributing nothing.
        grey = -1.0 + labels.astype(jnp.float32)
        return jnp.broadcast_to(grey[:, None, None, None], (len(z_BxZ), 8, 8, 1)) + bias


class _Critic(nn.Module):
    @nn.compact
    def __call__(self, x, labels=None, *, train):
        return nn.Dense(1)(x.reshape(len(x), -1))[:, 0]


def _images(n, h, w, c, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, h, w, c)).astype(np.float32)


@pytest.mark.parametrize("side, factor", [(28, 3), (32, 2), (64, 1), (8, 8)])
def test_grid_cells_are_nearest_neighbour_upscaled_to_at_least_64_pixels(side, factor):
    images = _images(5, side, side, 1)
    grid = plots.image_grid(images, cols=3, pad=2)
    cell = side * factor + 2
    assert grid.shape == (2 * cell + 2, 3 * cell + 2, 1)
    for i, image in enumerate(plots.to_uint8(images)):
        r, c = divmod(i, 3)
        # PIL's nearest-neighbour resize as the independent reference.
        want = np.asarray(Image.fromarray(image[..., 0]).resize((side * factor,) * 2, Image.NEAREST))
        got = grid[2 + r * cell:r * cell + cell, 2 + c * cell:c * cell + cell, 0]
        np.testing.assert_array_equal(got, want)


def test_slerp_runs_from_z0_to_z1_on_the_great_circle_with_norms_in_between():
    z0, z1 = jax.random.normal(jax.random.key(0), (2, 16)) * jnp.array([[1.0], [3.0]])
    t = jnp.linspace(0.0, 1.0, 9)
    path = sampling.slerp(z0, z1, t)
    np.testing.assert_allclose(path[0], z0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(path[-1], z1, rtol=1e-5, atol=1e-6)
    r0, r1 = jnp.linalg.norm(z0), jnp.linalg.norm(z1)
    np.testing.assert_allclose(jnp.linalg.norm(path, axis=1), (1 - t) * r0 + t * r1, rtol=1e-5)
    unit = lambda v: v / jnp.linalg.norm(v, axis=-1, keepdims=True)
    angle = lambda a, b: jnp.arccos(jnp.clip(jnp.sum(unit(a) * unit(b), -1), -1, 1))
    # The angle from z0 grows linearly in t, and the path stays in the plane of z0 and z1.
    np.testing.assert_allclose(angle(path, z0[None]), t * angle(z0, z1), atol=2e-3)
    np.testing.assert_allclose(angle(path, z0[None]) + angle(path, z1[None]), angle(z0, z1),
                               atol=2e-3)
    # Parallel endpoints: the straight line between them.
    np.testing.assert_allclose(sampling.slerp(z0, 2 * z0, t), (1 + t)[:, None] * z0[None],
                               rtol=1e-5, atol=1e-6)


def test_interpolation_strips_and_class_seed_grid_share_what_they_should():
    z = sampling.interpolation_z(jax.random.key(1), rows=2, frames=5, z_dim=4)
    assert z.shape == (10, 4) and not np.allclose(z[0], z[5])  # Each strip its own endpoints.
    with pytest.raises(ValueError, match="frames=1"):
        sampling.interpolation_z(jax.random.key(1), 2, 1, 4)
    z, labels = sampling.class_seed_grid(jax.random.key(2), num_classes=3, seeds=4, z_dim=5)
    np.testing.assert_array_equal(labels, [0] * 4 + [1] * 4 + [2] * 4)
    np.testing.assert_array_equal(z[:4], z[4:8])  # Every row: the same z per column.
    assert len({tuple(np.asarray(v)) for v in z[:4]}) == 4


def test_training_grid_of_a_conditional_g_has_one_class_per_row(tmp_path):
    state = jgan.create_state(jax.random.key(0), _LabelPainter(), _Critic(), optax.sgd(0.1),
                              optax.sgd(0.1), z_dim=2, image_shape=(8, 8, 1),
                              num_classes=NUM_CLASSES)
    config = ml_collections.ConfigDict(dict(num_sample_images=7, seed=0, dataset=dict(name="x"),
                                            model=dict(num_classes=NUM_CLASSES)))
    writer = writers.MetricWriter(tmp_path)
    loop._write_samples(config, state, 10, writer)
    writer.close()
    grid = np.asarray(Image.open(tmp_path / "samples" / "step_000010.png"))
    cell = 8 * 8 + 2  # 8×8 images upscaled ×8, 2 pixels apart; 7 images: 3 columns, 3 rows.
    assert grid.shape == (3 * cell + 2, 3 * cell + 2)
    for row in range(NUM_CLASSES):
        cells = grid[2 + row * cell:(row + 1) * cell, 2:].reshape(cell - 2, 3, cell)[:, :, :-2]
        assert np.all(cells == plots.to_uint8(-1.0 + row)), row


@pytest.fixture
def conditional_run(tmp_path):
    """tests/fixtures' checkpoint: a tiny class-conditional dcgan (32 px, 3 classes)."""
    shutil.copytree(REPO / "tests" / "fixtures" / "v0_1_0" / "run", tmp_path / "run")
    return tmp_path / "run"


def _cells(path, cols, rows, side=64):
    grid = np.asarray(Image.open(path))
    assert grid.shape == (rows * (side + 2) + 2, cols * (side + 2) + 2)
    return [[grid[2 + r * (side + 2):2 + r * (side + 2) + side:2,
                  2 + c * (side + 2):2 + c * (side + 2) + side:2] for c in range(cols)]
            for r in range(rows)]


def test_sample_cli_draws_class_rows_class_seed_grids_and_interpolations(conditional_run,
                                                                       tmp_path, capsys):
    G, g_vars, config = checkpoint.load_generator(conditional_run)
    draw = lambda z, labels: plots.to_uint8(sampling.decode(G.apply, g_vars, z, labels))[..., 0]
    run = lambda *args: cli.main(["jgan", "sample", "--workdir", str(conditional_run), *args])
    # Default: 6 samples, one class per row (2 columns), z from --seed.
    run("--num", "6", "--seed", "3", "--out", str(tmp_path / "rows.png"))
    cells = _cells(tmp_path / "rows.png", cols=2, rows=3)
    z = jax.random.normal(jax.random.key(3), (6, config.model.z_dim))
    for row in range(3):
        for col in range(2):
            own = draw(z[2 * row + col][None], np.array([row]))[0]
            other = draw(z[2 * row + col][None], np.array([(row + 1) % 3]))[0]
            np.testing.assert_array_equal(cells[row][col], own)
            assert not np.array_equal(own, other)  # The label changes the picture.
    # Class × seed: the same z down each column.
    run("--class_grid", "2", "--seed", "4", "--out", str(tmp_path / "classes.png"))
    cells = _cells(tmp_path / "classes.png", cols=2, rows=3)
    z = jax.random.normal(jax.random.key(4), (2, config.model.z_dim))
    for row in range(3):
        np.testing.assert_array_equal(np.stack(cells[row]), draw(z, np.array([row, row])))
    # Interpolation strips: endpoints are the fixed z; strip r is class r.
    run("--interpolate", "2", "--frames", "4", "--seed", "5", "--out", str(tmp_path / "lerp.png"))
    cells = _cells(tmp_path / "lerp.png", cols=4, rows=2)
    z0, z1 = jax.random.normal(jax.random.key(5), (2, 2, config.model.z_dim))
    for row in range(2):
        np.testing.assert_array_equal(cells[row][0], draw(z0[row][None], np.array([row]))[0])
        np.testing.assert_array_equal(cells[row][3], draw(z1[row][None], np.array([row]))[0])
    assert "wrote" in capsys.readouterr().out


def test_sample_cli_rejects_a_class_grid_for_an_unconditional_model(conditional_run, tmp_path,
                                                                   monkeypatch):
    from conftest import exit_message
    real = checkpoint.load_generator

    def unconditional(*args, **kwargs):
        G, g_vars, config = real(*args, **kwargs)
        config.model.num_classes = None
        return G, g_vars, config

    monkeypatch.setattr(checkpoint, "load_generator", unconditional)
    assert exit_message(["jgan", "sample", "--workdir", str(conditional_run), "--class_grid", "2",
                         "--out", str(tmp_path / "c.png")]) == \
        "error: --class_grid needs a class-conditional model; this checkpoint's model has none"


def test_gif_has_one_frame_per_sample_png_in_step_order(tmp_path):
    samples = tmp_path / "samples"
    samples.mkdir()
    same = plots.image_grid(_images(4, 8, 8, 1, seed=0), cols=2)
    for step, picture in ((1000, same), (500, same), (1500, plots.image_grid(_images(4, 8, 8, 1, 1), cols=2))):
        (samples / f"step_{step:06d}.png").write_bytes(writers.png_bytes(picture))
    cli.main(["jgan", "sample", "--workdir", str(tmp_path), "--gif"])
    with Image.open(tmp_path / "samples.gif") as gif:
        assert gif.n_frames == 3  # Two identical grids stay two frames (their captions differ).
        frames = []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("L")))
    assert frames[0].shape == (same.shape[0] + 14, same.shape[1])
    np.testing.assert_array_equal(frames[0][14:], same[..., 0])
    assert not np.array_equal(frames[1][14:], frames[2][14:])  # Steps 1000, 1500: other images.
