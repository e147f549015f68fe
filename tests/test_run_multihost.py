"""Multi-process training (2 processes × 2 CPU devices, gloo collectives on 127.0.0.1)."""
import json
import pathlib
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from jgan.run import checkpoint

from conftest import REPO

WORKER = REPO / "tests" / "multihost_worker.py"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(num_processes, num_devices, mode, workdir, out):
    """The processes of one setup; each one's output goes to a log file beside `out`."""
    port = _free_port()
    return [(subprocess.Popen([sys.executable, str(WORKER), str(i), str(num_processes), str(port),
                               str(num_devices), mode, str(workdir), str(out)],
                              stdout=(log := open(f"{out}.{i}.log", "w")), stderr=subprocess.STDOUT),
             log) for i in range(num_processes)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The three setups' final states; they run at once (each is mostly start-up and compiling).
    One process over four devices is tests/test_run_loop.py's and tests/test_run_engine.py's."""
    root = tmp_path_factory.mktemp("multihost")
    setups = [(1, 1, "jit"), (2, 2, "jit"), (2, 2, "pmap")]
    outs = {(n, d, mode): root / f"{n}x{d}{mode}.npz" for n, d, mode in setups}
    procs = [p for (n, d, mode), out in outs.items()
             for p in _start(n, d, mode, root / f"{n}x{d}{mode}", out)]
    for p, log in procs:
        p.wait(timeout=600)
        log.close()
        assert p.returncode == 0, pathlib.Path(log.name).read_text()[-3000:]
    return root, {key: [np.asarray(a) for a in np.load(out).values()] for key, out in outs.items()}


def test_two_processes_of_two_devices_train_like_one_device(runs):
    _, results = runs
    reference = results[(1, 1, "jit")]
    for key in [(2, 2, "jit"), (2, 2, "pmap")]:
        assert len(results[key]) == len(reference)
        for a, b in zip(results[key], reference):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=str(key))


def test_only_process_zero_writes_logs(runs):
    root, _ = runs
    workdir = root / "2x2jit"
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "d_loss" in r] == [1, 2, 3]
    assert [r["step"] for r in rows if "eval/modes" in r] == [3]
    assert len(list((workdir / "tensorboard").iterdir())) == 1
    assert [p.name for p in (workdir / "samples").iterdir()] == ["step_000003.png"]


def test_two_process_checkpoint_restores_in_one_process_for_sampling(runs):
    root, results = runs
    G, variables, config = checkpoint.load_generator(root / "2x2jit")
    state = results[(2, 2, "jit")]
    restored = jax.tree.leaves(variables)
    assert config.parallel.mode == "jit" and len(restored) > 0
    # The saved EMA parameters are among the 2-process run's final arrays.
    for leaf in restored:
        assert any(a.shape == leaf.shape and np.array_equal(a, leaf) for a in state)


def test_unreachable_coordinator_fails_in_bounded_time_naming_it():
    code = ("from jgan.run import engine; engine.initialize_distributed('127.0.0.1:9', 2, 1, "
            "timeout_s=5)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "could not join the JAX job at 127.0.0.1:9 within 5s" in result.stderr


def test_every_process_of_a_job_refuses_a_workdir_another_run_holds(tmp_path):
    from jgan.run import lock
    held = lock.WorkdirLock(tmp_path / "run")  # Another run (this test) holds the workdir.
    held.acquire()
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, str(WORKER), str(i), "2", str(port), "1", "jit",
                               str(tmp_path / "run"), str(tmp_path / "out.npz")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    try:
        for p in procs:  # Process 0 tried the lock; process 1 learnt the outcome from it.
            _, stderr = p.communicate(timeout=300)
            assert p.returncode != 0 and (f"is in use by another jgan run (host "
                                          f"{socket.gethostname()}, pid {held.info['pid']}") in stderr
    finally:
        held.release()
    assert not (tmp_path / "run" / "checkpoints").exists()
