"""Test setup (set before JAX initialises): 4 CPU devices for the data-parallel tests, one
compilation cache and one prepared Fashion-MNIST for the session.

Many tests compile the same program (the tiny ring2d step in every run-harness test and its
subprocesses, the same step for several seeds); JAX's persistent cache, in a directory new to each
session and inherited by subprocesses, compiles each once. A fresh CI machine starts it empty.
"""
import os
import shutil
import tempfile

# LLVM at -O1 for every program, the level jgan's step compiles at (jgan/cpu/options.py): the
# suite's programs are tiny, so compiling them is most of its time (docs/results.md, "The test
# suite's time").
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=4"
                           " --xla_backend_optimization_level=1").strip()
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _CACHE_DIR = os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="jgan-tests-xla-")
# Every program, even a small one: a `jgan train` subprocess of the tiny ring2d config then starts
# about a second sooner (its init, sampling and metric programs come from the cache).
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
# Fashion-MNIST is prepared once, into a directory the workers inherit (`fmnist_dir`).
if "JGAN_TESTS_TFDS" not in os.environ:
    _DATA_DIR = os.environ["JGAN_TESTS_TFDS"] = tempfile.mkdtemp(prefix="jgan-tests-tfds-")

import fcntl  # noqa: E402
import pathlib  # noqa: E402

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]


def exit_message(argv) -> str:
    """The one-line message `jgan ARGV` exits with (asserting it is one line)."""
    from jgan.run import cli
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    message = exit_info.value.code
    assert isinstance(message, str) and "\n" not in message, message
    return message


# Files of a minute or so of work (runs of `jgan train` in subprocesses, multi-process jobs, long
# loops), in that order of length: the two workers take them first, so neither is left alone
# with one at the end (`python -m pytest tests --durations=50` shows the lengths).
LONG_FILES = ("test_run_checkpoint.py", "test_fault_soak.py", "test_run_multihost.py",
              "test_evaluate.py", "test_precision.py", "test_quality_vs_torch.py",
              "test_run_engine.py", "test_cpu_host.py", "test_ema.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))  # Stable: keeps order.


@pytest.fixture
def ring_config():
    """The seconds-long ring2d variant; tests override what they need."""
    from jgan.run.configs import ring2d
    return ring2d.get_config("tiny")


@pytest.fixture(scope="session")
def fmnist_dir():
    """A TFDS data_dir holding Fashion-MNIST, prepared by the first worker that asks (a file lock
    makes the others wait for it). Tests may add feature caches (`jgan_stats/`) beside it, keyed by
    their own classifier weights, and must not change the dataset."""
    from jgan import data
    data_dir = os.environ["JGAN_TESTS_TFDS"]
    with open(os.path.join(data_dir, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data.ensure_prepared("fashion_mnist", data_dir)
    return data_dir


def pytest_sessionfinish(session):
    for name in ("_CACHE_DIR", "_DATA_DIR"):  # Only the process that made them removes them.
        if name in globals():
            shutil.rmtree(globals()[name], ignore_errors=True)
