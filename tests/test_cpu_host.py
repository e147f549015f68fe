"""jgan.cpu.host.keep_freed_memory (and synchronous CPU dispatch, as `jgan train` runs): a
program's large scratch stops being page-faulted in every call."""
import subprocess
import sys
import textwrap

import pytest

# Runs a jitted program whose loop carry (argv[3] MB) is XLA scratch, and prints its scratch size
# and the median page faults of 30 calls: with glibc as it is or after keep_freed_memory()
# (argv[1]), with JAX's asynchronous CPU dispatch or without (argv[2]).
_PROGRAM = textwrap.dedent("""
    import resource, sys
    import jax, jax.numpy as jnp
    from jax import lax
    import jgan.cpu
    jax.config.update("jax_cpu_enable_async_dispatch", sys.argv[2] == "async")
    if sys.argv[1] == "keep" and not jgan.cpu.host.keep_freed_memory():
        sys.exit("not glibc")
    size = int(sys.argv[3]) << 18  # float32 elements
    def f(x):
        carry = lax.fori_loop(0, 3, lambda i, c: jnp.sin(c) + x, jnp.broadcast_to(x, (size,)))
        return carry[::4096].sum()
    compiled = jax.jit(f).lower(jnp.float32(1.0)).compile()
    faults = []
    for _ in range(30):  # The median call: a worker thread's first call faults in its own heap.
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        compiled(jnp.float32(1.0)).block_until_ready()
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    print(compiled.memory_analysis().temp_size_in_bytes, sorted(faults)[15])
""")


def _scratch_and_faults(malloc, dispatch="async", megabytes=48):
    out = subprocess.run([sys.executable, "-c", _PROGRAM, malloc, dispatch, str(megabytes)],
                         capture_output=True, text=True)
    if out.returncode:
        pytest.skip(f"{malloc}, {dispatch}: {out.stderr.strip().splitlines()[-1]}")
    scratch, faults = out.stdout.split()
    return int(scratch), float(faults)


def test_keep_freed_memory_stops_refaulting_the_scratch_of_every_call():
    scratch, default_faults = _scratch_and_faults("default")
    assert scratch >= 40 << 20, f"the test program's scratch is {scratch} bytes; expected >= 40 MB"
    if default_faults < scratch / 4096 / 2:
        pytest.skip(f"this malloc does not re-fault the scratch ({default_faults:.0f} faults/call)")
    _, kept_faults = _scratch_and_faults("keep")
    # Here: ~12 300 faults per call as glibc is, 1–2 kept (a 48 MB scratch is 12 288 pages).
    assert kept_faults < default_faults / 4, (
        f"{kept_faults:.0f} page faults per call with keep_freed_memory(), "
        f"{default_faults:.0f} without; expected under a quarter")


def test_a_scratch_over_one_thread_heap_is_kept_when_steps_run_on_the_calling_thread():
    for _ in range(3):  # glibc picks the worker thread's arena; once in a while it is the main one.
        scratch, async_faults = _scratch_and_faults("keep", "async", megabytes=96)
        if async_faults >= scratch / 4096 / 2:
            break
    assert scratch >= 80 << 20, f"the test program's scratch is {scratch} bytes; expected >= 80 MB"
    if async_faults < scratch / 4096 / 2:
        pytest.skip(f"a worker thread's malloc kept a {scratch >> 20} MB scratch "
                    f"({async_faults:.0f} faults/call): no premise to test")
    _, sync_faults = _scratch_and_faults("keep", "sync", megabytes=96)
    # Here: ~24 600 faults per call on a worker thread (its heap holds at most 64 MB), 0 on the
    # main thread, whose heap grows to any size.
    assert sync_faults < async_faults / 4, (
        f"{sync_faults:.0f} page faults per call with synchronous dispatch, {async_faults:.0f} "
        f"with asynchronous; expected under a quarter")
