"""Test setup: 4 CPU devices for the data-parallel tests (set before JAX initialises)."""
import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=4").strip()

import pathlib  # noqa: E402

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def ring_config():
    """The seconds-long ring2d variant; tests override what they need."""
    from jgan.run.configs import ring2d
    return ring2d.get_config("tiny")
