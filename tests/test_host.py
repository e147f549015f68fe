"""jgan.host.keep_freed_memory: a program's large scratch stops being page-faulted in every call."""
import subprocess
import sys
import textwrap

import pytest

# Runs a jitted program whose 48 MB loop carry is XLA scratch, and prints its scratch size and
# the page faults per call after warm-up, with glibc as it is or after keep_freed_memory().
_PROGRAM = textwrap.dedent("""
    import resource, sys
    import jax, jax.numpy as jnp
    from jax import lax
    import jgan
    if sys.argv[1] == "keep" and not jgan.host.keep_freed_memory():
        sys.exit("not glibc")
    def f(x):
        carry = lax.fori_loop(0, 3, lambda i, c: jnp.sin(c) + x, jnp.broadcast_to(x, (12 << 20,)))
        return carry[::4096].sum()
    compiled = jax.jit(f).lower(jnp.float32(1.0)).compile()
    for _ in range(10):  # Each of XLA's worker threads settles its malloc arena.
        compiled(jnp.float32(1.0)).block_until_ready()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        compiled(jnp.float32(1.0)).block_until_ready()
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10
    print(compiled.memory_analysis().temp_size_in_bytes, faults)
""")


def _scratch_and_faults(mode):
    out = subprocess.run([sys.executable, "-c", _PROGRAM, mode], capture_output=True, text=True)
    if out.returncode:
        pytest.skip(f"{mode}: {out.stderr.strip().splitlines()[-1]}")
    scratch, faults = out.stdout.split()
    return int(scratch), float(faults)


def test_keep_freed_memory_stops_refaulting_the_scratch_of_every_call():
    scratch, default_faults = _scratch_and_faults("default")
    assert scratch >= 40 << 20, f"the test program's scratch is {scratch} bytes; expected >= 40 MB"
    if default_faults < scratch / 4096 / 2:
        pytest.skip(f"this malloc does not re-fault the scratch ({default_faults:.0f} faults/call)")
    _, kept_faults = _scratch_and_faults("keep")
    # Here: ~12 300 faults per call as glibc is, ~1 200 kept (a 48 MB scratch is 12 288 pages).
    assert kept_faults < default_faults / 4, (
        f"{kept_faults:.0f} page faults per call with keep_freed_memory(), "
        f"{default_faults:.0f} without; expected under a quarter")
