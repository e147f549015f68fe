"""Checkpoints: SIGTERM preemption, generator-only restore, bad input. (Exact resume after a
SIGKILL, with stateful regularisers and spectral norm: tests/test_fault_soak.py.)"""
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from PIL import Image

import jgan
from jgan.run import checkpoint, loop
from jgan.run.configs import default

from conftest import REPO

sys.path.insert(0, str(REPO / "experiments" / "benchmarks"))
from fault_outcome import read_checkpoint  # noqa: E402

EVERY = 150
RUN_ARGS = ["--config", "experiments/configs/ring2d.py:tiny", "--config.num_steps=1000000",
            f"--config.checkpoint_every={EVERY}", "--config.sample_every=100000",
            "--config.log_every=500"]


def _start(workdir):
    return subprocess.Popen([sys.executable, "experiments/train.py", *RUN_ARGS, "--workdir",
                             str(workdir)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(workdir, step, process, timeout=240):
    path = workdir / "checkpoints" / str(step)
    deadline = time.time() + timeout
    while not (path / "commit_success.txt").exists():
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.time() < deadline, f"no checkpoint {path} after {timeout}s"
        time.sleep(0.02)


def test_sigterm_saves_the_step_reached_and_exits_zero(tmp_path):
    process = _start(tmp_path)
    _wait_for_checkpoint(tmp_path, EVERY, process)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-2000:]
    steps = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
    assert steps[-1] > EVERY and f"saved step {steps[-1]}, exiting" in out
    arrays, data_state = read_checkpoint(tmp_path, steps[-1])
    assert data_state == {"step": steps[-1]} and int(arrays[(jax.tree_util.DictKey("step"),)]) == steps[-1]


def _image_config(folder):
    config = default.get_config()
    config.update(dict(num_steps=2, batch_size=8, checkpoint_every=2, sample_every=2,
                       log_every=1, num_sample_images=16))
    config.model.update(dict(name="dcgan", z_dim=16, image_shape=(32, 32, 1)))
    config.model.kwargs = dict(resolution=32, channels=1, width=8)
    config.dataset.update(dict(name="folder", path=str(folder)))
    return config


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A 2-step dcgan run on a folder of images that is deleted afterwards."""
    root = tmp_path_factory.mktemp("image_run")
    folder = root / "images"
    folder.mkdir()
    for i in range(16):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (32, 32), np.uint8)).save(
            folder / f"{i}.png")
    state = loop.train_and_evaluate(_image_config(folder), root / "run")
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()
    return root / "run", state


def test_load_generator_equals_the_saved_generator(image_run, monkeypatch):
    workdir, state = image_run
    # Restoring for sampling must not build D or touch the data.
    monkeypatch.setattr(jgan.models.dcgan.Discriminator, "init", lambda *a, **k: 1 / 0)
    monkeypatch.setattr(jgan.data, "make_iterator", lambda *a, **k: 1 / 0)
    for ema, (params, batch_stats) in ((True, (state.g_ema_params, state.g_ema_batch_stats)),
                                       (False, (state.g.params, state.g.batch_stats))):
        G, variables, config = checkpoint.load_generator(workdir, ema=ema)
        assert set(variables) == {"params", "batch_stats"} and config.model.name == "dcgan"
        expected = {"params": params, "batch_stats": batch_stats}
        for a, b in zip(jax.tree.leaves(variables), jax.tree.leaves(expected), strict=True):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(jax.tree.leaves(state.g_ema_params)[0], jax.tree.leaves(state.g.params)[0])


def test_restored_generator_gives_the_same_images_on_every_cpu_path(image_run):
    G, variables, config = checkpoint.load_generator(image_run[0])
    z = jax.random.normal(jax.random.key(0), (4, config.model.z_dim))
    images = {impl: jgan.models.get(config.model.name, conv_impl=impl, **config.model.kwargs)[0]
              .apply(variables, z, train=False) for impl in ("onednn", "xla_cpu", "lax")}
    # N(0, 0.02) weights after 2 steps give outputs of order 1e-4: compare relative to their scale.
    scale = float(np.max(np.abs(images["lax"])))
    assert scale > 0 and float(np.std(images["lax"])) > 0.1 * scale  # Not a constant.
    for impl in ("onednn", "xla_cpu"):
        assert float(np.max(np.abs(images[impl] - images["lax"]))) <= 1e-5 * scale, impl


def _sample_cli(*args):
    return subprocess.run([sys.executable, "-m", "jgan", "sample", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_sample_cli_writes_png_and_npz_without_the_dataset(image_run, tmp_path):
    workdir, _ = image_run
    result = _sample_cli("--workdir", str(workdir), "--num", "10", "--out", str(tmp_path / "g.png"))
    assert result.returncode == 0, result.stderr[-2000:]
    # Orbax's notices about read-only managers are not warnings for someone sampling.
    assert "read only" not in result.stderr and "read_only" not in result.stderr, result.stderr
    # 8 columns, 2 rows of 32-px images upscaled to 64 px, 2 px apart.
    assert Image.open(tmp_path / "g.png").size == (8 * 66 + 2, 2 * 66 + 2)
    result = _sample_cli("--workdir", str(workdir), "--num", "5", "--no-ema", "--seed", "3",
                         "--out", str(tmp_path / "s.npz"))
    assert result.returncode == 0, result.stderr[-2000:]
    images = np.load(tmp_path / "s.npz")["images"]
    assert images.shape == (5, 32, 32, 1) and np.abs(images).max() <= 1.0


def test_no_checkpoint_names_the_path(tmp_path):
    result = _sample_cli("--workdir", str(tmp_path), "--out", str(tmp_path / "g.png"))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == f"error: no checkpoint in {tmp_path}/checkpoints"


def _truncate_arrays(workdir, step):
    for path in (workdir / "checkpoints" / str(step) / "state").rglob("*"):
        if path.is_file() and path.parent.name == "d":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_corrupt_latest_checkpoint_falls_back_for_training_and_is_named_for_sampling(
        ring_config, tmp_path):
    loop.train_and_evaluate(ring_config, tmp_path)  # Checkpoints at steps 10 and 20.
    _truncate_arrays(tmp_path, 20)
    with pytest.raises(ValueError, match="checkpoint step 20 .* is corrupt"):
        checkpoint.load_generator(tmp_path)
    ckpt = checkpoint.Checkpointer(tmp_path, ring_config)
    with pytest.warns(UserWarning, match="checkpoint step 20 .* is unreadable"):
        state, data_state = ckpt.restore_latest(loop.create_state_from_config(ring_config))
    ckpt.close()
    assert int(state.step) == 10 and data_state == {"step": 10}


def test_checkpoint_of_another_model_names_the_first_mismatch(ring_config, tmp_path):
    loop.train_and_evaluate(ring_config, tmp_path)
    ring_config.model.kwargs.g_hidden = 48
    with pytest.raises(ValueError, match=r"model.kwargs.g_hidden 32 -> 48; model.kwargs.g_hidden "
                                         r"cannot change on resume without --allow_config_change"):
        loop.train_and_evaluate(ring_config, tmp_path)
    with pytest.raises(ValueError, match=r"parameter g/batch_stats/BatchNorm_0/mean has shape "
                                         r"\(32,\) in the checkpoint and \(48,\) in the config"):
        loop.train_and_evaluate(ring_config, tmp_path, allow_config_change=True)
