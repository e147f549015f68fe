"""Checkpoints written by jgan 0.1.0 (before the restructuring) restore in this version: the
whole state for resuming, and the generator alone for sampling (tests/fixtures/make_v0_1_0.py
says how the fixture was made)."""
import shutil

import jax
import ml_collections
import numpy as np
from flax import serialization, traverse_util

import jgan
from jgan.run import checkpoint, loop

from conftest import REPO

FIXTURE = REPO / "tests" / "fixtures" / "v0_1_0"


def _workdir(tmp_path):
    shutil.copytree(FIXTURE / "run", tmp_path / "run")  # Restoring may tidy the directory.
    return tmp_path / "run"


def test_the_whole_state_restores_with_the_same_names_shapes_and_values(tmp_path):
    workdir = _workdir(tmp_path)
    _, _, config = jgan.checkpoint.load_generator(workdir)
    ckpt = checkpoint.Checkpointer(workdir, ml_collections.ConfigDict(config))
    restored, data_state = ckpt.restore_latest(loop.create_state_from_config(config))
    ckpt.close()
    assert data_state == {"position": 8}
    flat = traverse_util.flatten_dict(serialization.to_state_dict(restored), sep="/")
    with np.load(FIXTURE / "samples.npz") as saved:
        expected = {k[len("state/"):]: saved[k] for k in saved.files if k.startswith("state/")}
    assert sorted(flat) == sorted(expected)
    for name, value in flat.items():
        np.testing.assert_array_equal(np.asarray(value), expected[name], err_msg=name)


def test_the_generator_alone_samples_what_jgan_0_1_0_sampled(tmp_path):
    workdir = _workdir(tmp_path)
    with np.load(FIXTURE / "samples.npz") as saved:
        labels, want = saved["labels"], {"ema": saved["ema"], "raw": saved["raw"]}
    for kind, ema in (("ema", True), ("raw", False)):
        G, variables, config = jgan.checkpoint.load_generator(workdir, ema=ema)
        images = jgan.sampling.generate(G.apply, variables, jax.random.key(7), 6,
                                        config.model.z_dim, labels)
        np.testing.assert_allclose(np.asarray(images), want[kind], rtol=1e-5, atol=1e-6,
                                   err_msg=kind)
