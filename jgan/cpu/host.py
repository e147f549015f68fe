"""A process setting for XLA:CPU training: glibc's malloc keeps the memory it frees.

XLA:CPU mallocs each call's scratch buffer; glibc gives a block over 32 MB a mapping of its own
and unmaps it on free, so every step would fault its scratch back in from the kernel. With no
mappings of their own, no trimming, and per-thread heaps kept, the same pages serve every step
(`tests/test_cpu_host.py` counts the faults; the step-time gain is in docs/cpu_performance.md).
A scratch larger than a worker thread's heap (64 MB) stays mapped per call unless steps run on
the calling thread, so `jgan.cpu.configure()` also turns JAX's asynchronous CPU dispatch off.
The cost: the resident set does not shrink after a large free.
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
