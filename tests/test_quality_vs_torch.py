"""experiments/benchmarks/quality_vs_torch.py end to end on a budget of seconds."""
import math
import runpy

import numpy as np
import pytest

from jgan.metrics import classifier, weights

from conftest import REPO
from test_data import needs_fmnist

SCRIPT = REPO / "experiments" / "benchmarks" / "quality_vs_torch.py"


@needs_fmnist
def test_quality_benchmark_trains_both_sides_and_scores_every_set(tmp_path, monkeypatch, capsys,
                                                                   fmnist_dir):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # Its children read it too.
    images = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype(np.float32)
    weights.save_npz(weights.flatten(classifier.train(images, np.arange(64) % 10, epochs=1,
                                                      batch_size=32)),
                     classifier.default_weights_path())  # Any fixed network scores both alike.
    main = runpy.run_path(str(SCRIPT))["main"]
    rows = main(["--minutes", "0.02", "--samples", "40", "--data_dir", fmnist_dir])
    assert [r["set"] for r in rows] == ["jgan raw G", "jgan G-EMA", "PyTorch raw G"]
    for r in rows:
        assert r["steps"] >= 1 and r["steps_per_s"] > 0, r
        assert all(math.isfinite(r[k]) for k in ("fid_fmnist", "kid_fmnist", "precision", "recall"))
        assert r["fid_fmnist"] > 0 and 0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1, r
    assert rows[0]["steps"] == rows[1]["steps"]  # Raw G and G-EMA of one jgan run,
    if rows[0]["steps"] < 500:  # which are one G before the config's ema.start.
        assert rows[0]["fid_fmnist"] == rows[1]["fid_fmnist"]
    out = capsys.readouterr().out
    assert "| jgan G-EMA | " in out and "| PyTorch raw G | " in out


def test_quality_benchmark_refuses_a_zero_budget():
    main = runpy.run_path(str(SCRIPT))["main"]
    with pytest.raises(SystemExit, match="--minutes 0.0 must be > 0"):
        main(["--minutes", "0"])
