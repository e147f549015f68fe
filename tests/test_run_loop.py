"""The real training loop, end to end on tiny configs."""
import json

import jax
import ml_collections
import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator

from jgan.run import checkpoint, loop



def test_train_and_evaluate_writes_events_jsonl_and_pngs(ring_config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path.parent)  # A relative workdir, as in the README's commands.
    state = loop.train_and_evaluate(ring_config, tmp_path.name)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["10", "20"]
    assert int(state.step) == ring_config.num_steps == 20
    rows = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    lines = [r for r in rows if "d_loss" in r]
    evals = [r for r in rows if "eval/modes" in r]
    assert [l["step"] for l in lines] == [5, 10, 15, 20] and [e["step"] for e in evals] == [10, 20]
    assert 0 <= evals[-1]["eval/modes"] <= 8 and 0 <= evals[-1]["eval/high_quality"] <= 1
    assert {"d_loss", "g_loss", "d_real_logit", "d_fake_logit", "d_grad_norm", "g_grad_norm",
            "steps_per_sec", "images_per_sec"} <= set(lines[-1])
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step_000010.png",
                                                                        "step_000020.png"]
    assert Image.open(tmp_path / "samples/step_000020.png").size == (512, 512)
    events = event_accumulator.EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("d_loss")] == [5, 10, 15, 20]
    np.testing.assert_allclose(events.Scalars("g_loss")[-1].value, lines[-1]["g_loss"], rtol=1e-6)
    assert [e.step for e in events.Images("samples")] == [10, 20]


def test_pmap_and_jit_engines_train_alike(ring_config, tmp_path):
    ring_config.num_steps = 3
    # Reduction order differs between the engines (~1e-7 relative). Adam normalises each
    # gradient, so where a sum cancels to near zero it turns that into a visible share of a whole
    # update; plain SGD keeps parameter differences proportional to gradient differences.
    for player in ("g", "d"):
        ring_config.optimizer[player] = ml_collections.ConfigDict(dict(name="sgd", learning_rate=0.01))
    states = {}
    for mode in ("jit", "pmap"):
        ring_config.parallel.mode = mode
        states[mode] = loop.train_and_evaluate(ring_config, tmp_path / mode)
    for a, b in zip(jax.tree.leaves(states["jit"]), jax.tree.leaves(states["pmap"]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(ring_config, tmp_path):
    ring_config.update(dict(num_steps=4, checkpoint_every=2, sample_every=100))
    loop.train_and_evaluate(ring_config, tmp_path)  # Good checkpoints at steps 2 and 4.
    ring_config.num_steps = 8
    ring_config.optimizer.g.learning_rate = float("nan")  # G's update at step 5 gives NaNs.
    with pytest.raises(FloatingPointError, match=r"non-finite \w+=nan at step 6"):
        loop.train_and_evaluate(ring_config, tmp_path, allow_config_change=True)
    ring_config.num_steps = 5  # Now the NaN parameters would be saved at step 5: refused.
    with pytest.raises(FloatingPointError, match=r"non-finite parameters at step 5; not saved"):
        loop.train_and_evaluate(ring_config, tmp_path, allow_config_change=True)
    manager = checkpoint.Checkpointer(tmp_path, ring_config)
    assert manager.manager.all_steps() == [2, 4]
    manager.close()


@pytest.mark.parametrize("section,value,message", [
    ("dataset.name", "mnits", "dataset 'mnits'"),
    ("model.name", "dcgan128", "unknown model 'dcgan128'"),
    ("loss.name", "nonsaturating", "unknown loss 'nonsaturating'"),
])
def test_unknown_names_list_valid_ones(ring_config, tmp_path, section, value, message):
    group, key = section.split(".")
    ring_config[group][key] = value
    with pytest.raises(ValueError, match=f"{message}.*expected one of"):
        loop.train_and_evaluate(ring_config, tmp_path)
