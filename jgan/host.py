"""A process setting for XLA:CPU training: glibc's malloc keeps the memory it frees.

XLA:CPU allocates each call's scratch ("temp") buffer with malloc: 46 MB for
the `dcgan` 32 px step at batch 64, 41 MB for the seed DCGAN's. glibc hands a block over 32 MB
(its largest mmap threshold) a mapping of its own and unmaps it on free, so every step faulted
its scratch back in from the kernel, zeroed: 17–19k page faults per `dcgan32` step. With no
mappings of their own, no trimming, and per-thread heaps kept, the same pages serve every step:
no page faults, and the `dcgan32` step ×1.10 (153–161 ms against 171–178 ms, three processes of
each, interleaved; compile time unchanged).

Which thread mallocs matters. JAX's asynchronous CPU dispatch runs each call on a worker thread,
whose glibc heap holds at most 64 MB, so a larger scratch is still mapped per call: the seed
DCGAN at batch 256 (140 MB) faulted 36k pages per step. With `jax_cpu_enable_async_dispatch`
off (set before JAX's first use; `jgan.cli` does) a call runs on the calling thread, and the
main thread's heap grows to any size: no faults, and that step ×1.04–1.06.

The costs are the process's: the resident set does not shrink after a large free, and its peak
grew up to 11 % (`dcgan32`: 740–817 MB against 714–740 MB). `jgan.cli` applies it when the
backend is the CPU; on accelerators the step's scratch is device memory, and nothing there was
measured. `experiments/benchmarks/step_speed.py` applies it to both frameworks it times.
"""
import ctypes
import ctypes.util
import functools

# mallopt(3) parameters, from glibc's <malloc.h>.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4
_SETTINGS = ((_M_MMAP_MAX, 0),  # No block gets a mapping of its own, however large.
             (_M_TRIM_THRESHOLD, 2**31 - 1),  # Freed memory at a heap's top stays mapped...
             # ...and a per-thread heap that fell empty is kept: glibc unmaps one only when the
             # heap before it has room for this much padding (64 MB, the most a heap can hold).
             (_M_TOP_PAD, 64 << 20))


@functools.cache
def keep_freed_memory() -> bool:
    """Has glibc's malloc reuse what it frees instead of returning it to the kernel.

    Call it once, before the training steps (any time: it governs later allocations). Returns
    whether every setting took: False where the C library is not glibc (nothing is changed).
    """
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False
    return all([libc.mallopt(param, value) == 1 for param, value in _SETTINGS])  # Each applied.
