"""oneDNN's convolutions for jgan on XLA:CPU: the compiled XLA FFI handlers (`onednn_conv.cc`).

jgan (`jgan.cpu.onednn`) registers them with XLA when it runs on CPU and this package is
installed: `pip install ./onednn` from jgan's repository (x86-64 Linux, a C++ compiler).
"""
import ctypes
import functools
import importlib.metadata
import importlib.util

# The custom calls' names and attributes the handlers take; jgan checks it against its own
# (`jgan.cpu.onednn.FFI_INTERFACE`) before it registers them.
FFI_INTERFACE = 1


@functools.cache
def load() -> ctypes.CDLL:
    """The extension, with oneDNN's library loaded globally first so its link resolves.
    Raises OSError (or ImportError) where either is missing."""
    spec = importlib.util.find_spec("jgan_onednn._onednn_conv")
    if spec is None or spec.origin is None:
        raise ImportError("jgan_onednn was installed without its compiled extension")
    try:
        dist = importlib.metadata.distribution("onednn-cpu-gomp")
        libdnnl = next(f for f in dist.files or () if f.name == "libdnnl.so.3")
    except (importlib.metadata.PackageNotFoundError, StopIteration) as e:
        raise OSError(f"oneDNN's runtime (onednn-cpu-gomp) is not installed: {e!r}") from None
    ctypes.CDLL(str(dist.locate_file(libdnnl)), mode=ctypes.RTLD_GLOBAL)
    return ctypes.CDLL(spec.origin)
