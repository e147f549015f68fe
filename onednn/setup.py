"""Builds jgan-onednn: oneDNN's convolutions as XLA FFI handlers for jgan on XLA:CPU.

    pip install ./onednn          (x86-64 Linux, with a C++ compiler)

The build needs oneDNN's headers and library (the onednn wheels) and XLA's FFI headers (from the
jaxlib wheel, pinned to the version tested: XLA's FFI runs handlers built against older headers).
"""
import importlib.metadata
import pathlib

from setuptools import Extension, setup


def _installed(dist_name: str, tail: str) -> pathlib.Path:
    """Where the installed distribution's file ending in `tail` is (wheel data files included)."""
    dist = importlib.metadata.distribution(dist_name)
    entry = next(f for f in dist.files or () if f.as_posix().endswith(tail))
    return pathlib.Path(dist.locate_file(entry)).resolve()


onednn_include = _installed("onednn-devel-cpu-gomp", "include/oneapi/dnnl/dnnl.hpp").parents[2]
onednn_lib = _installed("onednn-cpu-gomp", "/libdnnl.so").parent
ffi_include = _installed("jaxlib", "include/xla/ffi/api/ffi.h").parents[3]
setup(ext_modules=[Extension(
    "jgan_onednn._onednn_conv", ["jgan_onednn/onednn_conv.cc"], language="c++",
    include_dirs=[str(onednn_include)], library_dirs=[str(onednn_lib)], libraries=["dnnl"],
    # XLA's FFI headers as system headers: their own warnings are not jgan's.
    extra_compile_args=["-std=c++17", "-g0", "-isystem", str(ffi_include)])])
