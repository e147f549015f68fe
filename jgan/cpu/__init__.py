"""Everything specific to XLA:CPU: compiler options, the host's malloc setting, jgan's XLA
formulations of convolutions and BatchNorm, and the oneDNN bindings.

Imported only on the CPU backend, on first use: by `jgan.nn`'s layers when they trace there, and
by `jgan.jit_step` / the run harness, which call `configure()`. Researchers need not import it.
The measurements behind each choice: docs/cpu_performance.md.
"""
import jax

from jgan.cpu import host, options
from jgan.cpu.conv import conv, conv_transpose
from jgan.cpu.norm import batch_norm_train

__all__ = ["batch_norm_train", "configure", "conv", "conv_transpose", "host", "options"]


def configure() -> None:
    """Process settings for XLA:CPU training: glibc keeps freed memory (`host`), and, if JAX's
    CPU client does not exist yet, steps run on the calling thread (its malloc heap grows to any
    size). Idempotent; the run harness and `jgan.jit_step` call it."""
    host.keep_freed_memory()
    jax.config.update("jax_cpu_enable_async_dispatch", False)
