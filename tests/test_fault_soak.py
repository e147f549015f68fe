"""The fault soak at a small N (experiments/benchmarks/fault_soak.py): SIGTERM during a random
step, SIGKILL during a step and during a save, a corrupt checkpoint, a NaN and a full disk (where
a tmpfs can be mounted), in one chain of `jgan train` processes (LeCam and spectral norm on) that
must end bit-identical to an uninterrupted run. Its SIGTERM comes by failpoint: one at a random
wall-clock moment may come after a fast run has finished, which ends the chain before its other
faults."""
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "experiments" / "benchmarks"))
import fault_soak  # noqa: E402
from fault_outcome import can_mount_here  # noqa: E402

PLAN = ("term_step", "kill_step", "kill_save", "corrupt_state", "nan", "disk_full")
# LeCam and spectral norm on: the stateful regulariser's EMAs and the power iteration's vectors
# are among the arrays that must end bit-identical after a SIGKILL.
STATEFUL = ('--config.loss.regularizers=[{"name": "lecam", "weight": 0.3}]',
            '--config.model.kwargs={"g_hidden": 32, "d_hidden": 32, "spectral_norm": True}')


@pytest.mark.slow
def test_small_soak_ends_exact_and_loses_nothing_beyond_the_last_checkpoint():
    records, compared = fault_soak.soak(len(PLAN), seed=0, steps=100, kinds=PLAN, plan=True,
                                        config_args=STATEFUL)
    print(fault_soak.table(records))
    expected = [k for k in PLAN if k != "disk_full" or can_mount_here()]
    for r in records:
        assert r["ok"] and r["exact"] and r["lost"] == 0, f"{r['kind']}: {r['note']} {r.get('stderr')}"
    assert [r["kind"] for r in records] == expected, records
    assert {"reg_state/lecam/count", "reg_state/lecam/ema_fake", "reg_state/lecam/ema_real"} <= set(
        compared), compared
    assert sum("spectral_norm" in name for name in compared) == 8, compared  # u, v of 4 layers.
