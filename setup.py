"""Builds jgan's oneDNN convolution extension (`jgan/native/onednn_conv.cc`, see `jgan.onednn`).

Everything else about the package is in pyproject.toml. The extension is built on x86-64 Linux
only and is optional: if it cannot be built (no C++ compiler, say), jgan installs without it and
`jgan.layers` uses its XLA formulations instead.
"""
import importlib.metadata
import pathlib
import platform
import sys

from setuptools import Extension, setup


def _installed(dist_name: str, tail: str) -> pathlib.Path:
    """Where the installed distribution's file ending in `tail` is (wheel data files included)."""
    dist = importlib.metadata.distribution(dist_name)
    entry = next(f for f in dist.files or () if f.as_posix().endswith(tail))
    return pathlib.Path(dist.locate_file(entry)).resolve()


def _extensions() -> list:
    if sys.platform != "linux" or platform.machine() != "x86_64":
        return []
    try:
        onednn_include = _installed("onednn-devel-cpu-gomp", "include/oneapi/dnnl/dnnl.hpp").parents[2]
        onednn_lib = _installed("onednn-cpu-gomp", "/libdnnl.so").parent
        ffi_include = _installed("jaxlib", "include/xla/ffi/api/ffi.h").parents[3]
    except (importlib.metadata.PackageNotFoundError, StopIteration) as e:
        print(f"jgan: not building the oneDNN extension ({e!r})", file=sys.stderr)
        return []
    return [Extension(
        "jgan._onednn_conv", ["jgan/native/onednn_conv.cc"], language="c++", optional=True,
        include_dirs=[str(onednn_include)], library_dirs=[str(onednn_lib)], libraries=["dnnl"],
        # XLA's FFI headers as system headers: their own warnings are not jgan's.
        extra_compile_args=["-std=c++17", "-g0", "-isystem", str(ffi_include)])]


setup(ext_modules=_extensions())
