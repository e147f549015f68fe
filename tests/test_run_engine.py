"""Data parallelism: N devices on one global batch train exactly like one device."""
import jax
import numpy as np
import optax
import pytest

import jgan
from jgan.run import engine as engine_lib

NUM_DEVICES, GLOBAL_BATCH, N_CRITIC = 4, 8, 2
STEP_KW = dict(loss="hinge", n_critic=N_CRITIC, gp_weight=1.0, r1_weight=1.0)


def _state(axis_name):
    # dcgan has BatchNorm in both players and no dropout; width 8 keeps it small.
    G, D = jgan.models.get("dcgan", resolution=32, channels=1, width=8, axis_name=axis_name)
    # Summation order differs across devices (~1e-7 relative in the gradients); Adam can turn that
    # into a sizeable share of one update for near-zero gradients, so parameter differences scale
    # with the learning rate: the DCGAN setting 2e-4 is used.
    return jgan.create_state(jax.random.key(0), G, D, optax.adam(2e-4, 0.5), optax.adam(2e-4, 0.5),
                             z_dim=16, image_shape=(32, 32, 1))


def _batches(num_steps):
    rng = np.random.default_rng(0)
    return [{"image": rng.uniform(-1, 1, (N_CRITIC, GLOBAL_BATCH, 32, 32, 1)).astype(np.float32)}
            for _ in range(num_steps)]


def test_pmap_over_four_devices_equals_one_device():
    assert jax.local_device_count() >= NUM_DEVICES, "tests/conftest.py sets 4 CPU devices"
    batches = _batches(3)
    single = _state(axis_name=None)
    step = jax.jit(jgan.make_train_step(**STEP_KW))
    for batch in batches:
        single, single_metrics = step(single, batch)

    devices = jax.local_devices()[:NUM_DEVICES]
    replicated = jgan.parallel.replicate(_state(axis_name="batch"), devices)
    traces = []

    def traced_step(state, batch):
        traces.append(1)
        return jgan.make_train_step(axis_name="batch", **STEP_KW)(state, batch)

    p_step = jax.pmap(traced_step, axis_name="batch", devices=devices)
    for batch in batches:
        replicated, p_metrics = p_step(replicated, jgan.parallel.shard_batch(batch, NUM_DEVICES,
                                                                             axis=1))
    multi = jgan.parallel.unreplicate(replicated)
    # `replicate` shards like pmap's outputs, so steps 2 and 3 reuse step 1's program.
    assert len(traces) == 1, f"the pmapped step was traced {len(traces)} times in 3 steps"

    for path, a, b in zip(jax.tree_util.tree_leaves_with_path(single),
                          jax.tree.leaves(single), jax.tree.leaves(multi)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=jax.tree_util.keystr(path[0]))
    for name in ("d_loss", "g_loss", "gp", "r1"):
        np.testing.assert_allclose(single_metrics[name], p_metrics[name][0], rtol=1e-4, atol=1e-6)
    # Replicas stay identical (gradients and batch statistics are averaged across devices).
    for leaf in jax.tree.leaves(replicated):
        np.testing.assert_array_equal(leaf[0], leaf[-1])


def test_global_batch_not_divisible_names_both_numbers():
    with pytest.raises(ValueError, match="global batch 10 is not divisible by the device count 4"):
        jgan.parallel.shard_batch({"image": np.zeros((10, 2))}, 4)


def test_engine_donates_the_state_on_accelerators_only():
    # jgan.backend: on CPU a donated state costs XLA copies of parameters and first moments.
    assert jgan.donate_argnums("tpu") == jgan.donate_argnums("gpu") == (0,)
    engine = engine_lib.Engine("jit", global_batch=NUM_DEVICES)
    G, D = jgan.models.get("mlp2d")
    state = engine.put_state(jgan.create_state(jax.random.key(0), G, D, optax.adam(1e-3),
                                               optax.adam(1e-3), z_dim=2, image_shape=(2,)))
    batch = engine.put_batch({"image": np.zeros((NUM_DEVICES, 2), np.float32)})
    new_state, _ = engine.compile(jgan.make_train_step())(state, batch)
    assert not any(leaf.is_deleted() for leaf in jax.tree.leaves(state))
    assert int(new_state.step) == int(state.step) + 1


def test_every_replica_holds_the_same_spectral_norm_vectors_under_pmap_and_jit_sharding():
    batches = [{"image": b["image"][0, :, :2, 0, 0]} for b in _batches(2)]  # 2-D points.
    results = {}
    for mode in ("pmap", "jit"):
        engine = engine_lib.Engine(mode, global_batch=GLOBAL_BATCH)
        G, D = jgan.models.get("mlp2d", g_hidden=16, d_hidden=16, spectral_norm=True,
                               axis_name=engine.axis_name)
        state = jgan.create_state(jax.random.key(0), G, D, optax.adam(1e-3), optax.adam(1e-3),
                                  z_dim=2, image_shape=(2,))
        step = engine.compile(jgan.make_train_step(loss="hinge", axis_name=engine.axis_name))
        initial, state = state.d.collections, engine.put_state(state)
        for batch in batches:
            state, _ = step(state, engine.put_batch(batch))
        vectors = state.d.collections["spectral_norm"]
        for path, leaf in jax.tree_util.tree_leaves_with_path(vectors):
            copies = [np.asarray(shard.data) for shard in leaf.addressable_shards]
            assert len(copies) == NUM_DEVICES, (mode, len(copies))
            for copy in copies[1:]:  # Bit for bit: computed from the same weights everywhere.
                np.testing.assert_array_equal(copy, copies[0], err_msg=f"{mode} {path}")
        results[mode] = engine.local_state(state).d.collections
        assert not jax.tree.all(jax.tree.map(np.array_equal, results[mode], initial))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5), results["pmap"],
                 results["jit"])
