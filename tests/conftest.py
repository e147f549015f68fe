"""Test setup: 4 CPU devices for the data-parallel tests (set before JAX initialises)."""
import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=4").strip()
