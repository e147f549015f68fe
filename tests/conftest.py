"""Test setup (set before JAX initialises): 4 CPU devices for the data-parallel tests, and one
compilation cache for the session.

Many tests compile the same program (the tiny ring2d step in every run-harness test and its
subprocesses, the same step for several seeds); JAX's persistent cache, in a directory new to each
session and inherited by subprocesses, compiles each once. A fresh CI machine starts it empty.
"""
import os
import shutil
import tempfile

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=4").strip()
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _CACHE_DIR = os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="jgan-tests-xla-")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")

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


@pytest.fixture
def ring_config():
    """The seconds-long ring2d variant; tests override what they need."""
    from jgan.run.configs import ring2d
    return ring2d.get_config("tiny")


def pytest_sessionfinish(session):
    if "_CACHE_DIR" in globals():
        shutil.rmtree(_CACHE_DIR, ignore_errors=True)
