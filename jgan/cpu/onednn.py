"""oneDNN convolutions on XLA:CPU, through XLA's FFI (the `jgan-onednn` package, `onednn/`).

XLA:CPU runs convolutions through Eigen: forward passes near the machine's matrix-product rate,
but input and kernel gradients below it; oneDNN, the library PyTorch uses on CPU, runs all three
near it (`python experiments/benchmarks/layer_profile.py`, docs/cpu_performance.md). Each pass of
y = conv(x, w) (NHWC / HWIO, explicit padding) is one custom call, `ONEDNN`'s formulation of
`jgan.cpu.primitives`:

- `jgan_conv_fwd`: y = conv(x, w);
- `jgan_conv_bwd_data`: the input gradient, which is also `conv_transpose`'s forward (the kernel
  flipped and its channel axes swapped); below 16 input channels col2im's instead;
- `jgan_conv_bwd_weights`: the kernel gradient.

As primitives they serve reverse and forward mode, gradients of gradients (R1, WGAN-GP) and
`jax.vmap`. Under `jax.jit` with the batch sharded over devices each device convolves its share.
`available()` says whether the `jgan-onednn` package (`pip install ./onednn`) is installed and
loads; `jgan.cpu.conv` falls back to its XLA formulations when it is not. Float32, and bfloat16
(accumulated in float32, as oneDNN does) where the processor has AVX-512 BF16 (`bf16_supported`).
"""
import functools
import math
import pathlib
import re
import warnings
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.custom_partitioning import custom_partitioning
from jax.sharding import NamedSharding, PartitionSpec as P

from jgan.cpu import col2im, primitives

_TARGETS = ("jgan_conv_fwd", "jgan_conv_bwd_data", "jgan_conv_bwd_weights")
_DTYPES = (jnp.float32, jnp.bfloat16)
CPUINFO = "/proc/cpuinfo"


# The custom calls' names and attributes that this jgan emits (`_TARGETS`; strides, pads).
# jgan-onednn states the interface it was built for, so that a copy left over from an older jgan is
# refused in one line rather than failing inside XLA.
FFI_INTERFACE = 1


def interface_mismatch(extension) -> Optional[str]:
    """Why the `jgan_onednn` module `extension` does not fit this jgan, or None if it does."""
    built_for = getattr(extension, "FFI_INTERFACE", 0)
    if built_for == FFI_INTERFACE:
        return None
    return (f"the installed jgan-onednn ({extension.__file__}) was built for FFI interface "
            f"{built_for}, this jgan calls interface {FFI_INTERFACE}: reinstall it from this jgan's "
            "repository (pip install ./onednn)")


@functools.cache
def unavailable_reason() -> Optional[str]:
    """None once the `jgan-onednn` extension is loaded and registered with XLA:CPU; else why not.
    A copy that does not fit this jgan is also reported in a warning: "auto" runs without it."""
    try:
        import jgan_onednn  # noqa: PLC0415 — optional: `pip install ./onednn`.
        library = jgan_onednn.load()
    except (ImportError, OSError) as e:
        return (f"the jgan-onednn package is not installed or not loadable here ({e}); "
                "pip install ./onednn")
    mismatch = interface_mismatch(jgan_onednn)
    if mismatch:
        warnings.warn(f"{mismatch}; until then convolutions run without oneDNN", stacklevel=2)
        return mismatch
    for target in _TARGETS:
        jax.ffi.register_ffi_target(target, jax.ffi.pycapsule(getattr(library, target)),
                                    platform="cpu")
    return None


def available() -> bool:
    """Whether the `jgan-onednn` extension is installed, loads, fits this jgan, and is registered
    with XLA:CPU (`unavailable_reason()` says why not)."""
    return unavailable_reason() is None


@functools.cache
def cpu_flags(cpuinfo: str = CPUINFO) -> frozenset:
    """The processor's feature flags (the first `flags` line of /proc/cpuinfo; empty if none)."""
    try:
        text = pathlib.Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return frozenset(line.partition(":")[2].split())


def bf16_supported(flags=None) -> bool:
    """Whether oneDNN runs bfloat16 convolutions here: AVX-512 BF16 among `flags` (default: this
    processor's, `cpu_flags()`)."""
    return "avx512_bf16" in (cpu_flags() if flags is None else flags)


def check_bf16(flags=None) -> None:
    """Fails in one line unless `bf16_supported(flags)`."""
    if not bf16_supported(flags):
        raise ValueError("precision 'bfloat16' on layer impl 'onednn' needs a processor with "
                         "AVX-512 BF16 (cpu flag 'avx512_bf16'), which this one lacks; expected "
                         "precision 'float32', or impl 'auto' / 'xla_cpu'")


class Shapes(NamedTuple):
    """One call's full shapes of y = conv(x, w): x [N, H, W, C], w [KH, KW, C, O],
    y [N, OH, OW, O]."""
    x: tuple
    w: tuple
    y: tuple
    strides: tuple
    pads: tuple  # ((lo, hi), (lo, hi))


def _shapes(geo: primitives.Geometry, n: int, c: int, o: int) -> Shapes:
    return Shapes((n, *geo.x_hw, c), (*geo.k_hw, c, o), (n, *geo.y_hw(), o), geo.strides, geo.pads)


def _call(target: str, a, b, shapes: Shapes):
    """One pass as an XLA custom call; batch-sharded operands stay sharded (`_partition`)."""
    if not available():
        raise RuntimeError(f"oneDNN convolutions are unavailable: {unavailable_reason()}")
    return _PASSES[target](a, b, shapes)


def _local_call(a, b, shapes: Shapes, target: str):
    out_shape = {"jgan_conv_fwd": shapes.y, "jgan_conv_bwd_data": shapes.x,
                 "jgan_conv_bwd_weights": shapes.w}[target]
    out = jax.ShapeDtypeStruct(out_shape, a.dtype)
    pads = np.asarray(shapes.pads, np.int64).ravel()  # lo_h, hi_h, lo_w, hi_w
    return jax.ffi.ffi_call(target, out)(a, b, strides=np.asarray(shapes.strides, np.int64),
                                         pads=pads)


# Under jit with the batch sharded over devices (jgan.parallel.Engine "jit"), each device runs its
# share of the batch and kernel gradients are summed over the batch's mesh axes; every other axis
# is replicated. Without these rules XLA would gather the whole batch onto every device.
_RULES = {"jgan_conv_fwd": "b h w c, i j c o -> b p q o",
          "jgan_conv_bwd_data": "b p q o, i j c o -> b h w c",
          "jgan_conv_bwd_weights": "b h w c, b p q o -> i j c o"}


def _batch_axes(arg_shapes) -> tuple:
    spec = arg_shapes[0].sharding.spec
    batch = spec[0] if len(spec) else None
    return () if batch is None else batch if isinstance(batch, tuple) else (batch,)


def _shardings(mesh, target, batch: tuple):
    act, rep = NamedSharding(mesh, P(batch or None)), NamedSharding(mesh, P())
    if target == "jgan_conv_bwd_weights":
        return (act, act), rep
    return (act, rep), act


def _partition(target, shapes, mesh, arg_shapes, result_shape):
    batch = _batch_axes(arg_shapes)
    arg_shardings, result_sharding = _shardings(mesh, target, batch)
    n = shapes.x[0] // math.prod(mesh.shape[name] for name in batch)
    local = shapes._replace(x=(n, *shapes.x[1:]), y=(n, *shapes.y[1:]))

    def lower(a, b):
        out = _local_call(a, b, local, target)
        return jax.lax.psum(out, batch) if batch and target == "jgan_conv_bwd_weights" else out

    return mesh, lower, result_sharding, arg_shardings


def _partitioned_pass(target: str):
    def run(a, b, shapes: Shapes):
        return _local_call(a, b, shapes, target)

    op = custom_partitioning(run, static_argnums=(2,))
    reduction = ("b",) if target == "jgan_conv_bwd_weights" else ()
    op.def_partition(
        partition=functools.partial(_partition, target),
        infer_sharding_from_operands=lambda shapes, mesh, arg_shapes, result_shape: _shardings(
            mesh, target, _batch_axes(arg_shapes))[1],
        sharding_rule=_RULES[target], reduction_factors=reduction,
        need_replication_factors=tuple(f for f in dict.fromkeys(_RULES[target]) if f.isalpha()
                                       and f != "b"))
    return op


_PASSES = {target: _partitioned_pass(target) for target in _TARGETS}


def _fwd(x, w, geo):
    return _call("jgan_conv_fwd", x, w, _shapes(geo, x.shape[0], *w.shape[2:]))


# Below this many input channels (image layers) an input gradient is col2im's: faster there, and
# free of oneDNN's many small parallel regions, which stall when another OpenMP runtime's threads
# (PyTorch's, in the benchmarks) spin beside them (`python experiments/benchmarks/step_speed.py`).
_MIN_ONEDNN_INPUT_GRAD_CHANNELS = 16


def _input_grad(g, w, geo):
    if w.shape[2] < _MIN_ONEDNN_INPUT_GRAD_CHANNELS:
        return col2im.conv_input_grad(g, w, geo.x_hw, geo.strides, geo.pads)
    return _call("jgan_conv_bwd_data", g, w, _shapes(geo, g.shape[0], *w.shape[2:]))


def _kernel_grad(x, g, geo):
    shapes = _shapes(geo, x.shape[0], x.shape[3], g.shape[3])
    if x.dtype == jnp.bfloat16:
        # oneDNN's bfloat16 kernel gradient (jit_bf16) runs 4-40x slower than its float32 one on
        # this Zen 4 (ONEDNN_VERBOSE; docs/cpu_performance.md): float32 on the widened operands.
        f32 = _call("jgan_conv_bwd_weights", x.astype(jnp.float32), g.astype(jnp.float32), shapes)
        return f32.astype(x.dtype)
    return _call("jgan_conv_bwd_weights", x, g, shapes)


ONEDNN = primitives.Formulation("onednn", _fwd, _input_grad, _kernel_grad)


def supports(x, kernel, pads, transposed: bool = False) -> bool:
    """Whether the extension is here and `conv` (`conv_transpose`) can take these operands."""
    return available() and _unsupported(x, kernel, pads, transposed) is None


def _unsupported(x, kernel, pads, transposed: bool):
    """Why oneDNN cannot take these operands, or None: it needs 4-D operands of one dtype,
    float32 or (with AVX-512 BF16) bfloat16, and padding of the (underlying strided) convolution
    within 0 … k − 1 on each side."""
    conv_pads = primitives.transposed_pads(kernel.shape[:2], pads) if transposed else pads
    if x.ndim != 4 or kernel.ndim != 4 or x.dtype != kernel.dtype or x.dtype not in _DTYPES:
        return (f"oneDNN convolutions take float32 or bfloat16 NHWC / HWIO operands of one dtype; "
                f"got {x.dtype}{list(x.shape)} and {kernel.dtype}{list(kernel.shape)}")
    if x.dtype == jnp.bfloat16 and not bf16_supported():
        return "oneDNN's bfloat16 convolutions need AVX-512 BF16, which this processor lacks"
    if not all(0 <= p < k for (lo, hi), k in zip(conv_pads, kernel.shape[:2]) for p in (lo, hi)):
        return (f"padding {tuple(map(tuple, pads))} of a {kernel.shape[0]}x{kernel.shape[1]} "
                f"kernel is outside what oneDNN takes (0 to k - 1 per side"
                f"{', after k - 1 - p for a transposed convolution' if transposed else ''})")
    return None


def _check(x, kernel, pads, transposed: bool = False) -> None:
    reason = _unsupported(x, kernel, pads, transposed)
    if reason is not None:
        raise ValueError(reason)


def conv(x, kernel, strides: tuple, pads: tuple):
    """`lax.conv_general_dilated(x, kernel, strides, pads)`, NHWC / HWIO."""
    _check(x, kernel, pads)
    geo = primitives.geometry(strides, pads, x.shape[1:3], kernel.shape[:2])
    return primitives.conv(x, kernel, geo, ONEDNN)


def conv_transpose(x, kernel, strides: tuple, pads: tuple):
    """`lax.conv_transpose(x, kernel, strides, pads)`, NHWC / HWIO: oneDNN's input gradient of
    the strided convolution it transposes (`primitives.conv_transpose`)."""
    _check(x, kernel, pads, transposed=True)
    return primitives.conv_transpose(x, kernel, strides, pads, ONEDNN)


_CALL = re.compile(r"= (?:f32|bf16)\[([\d,]*)\][^=]*custom-call\(.*"
                   r"custom_call_target=\"jgan_conv_(\w+)\", operand_layout_constraints="
                   r"\{(?:f32|bf16)\[([\d,]*)\]\S*, (?:f32|bf16)\[([\d,]*)\].*"
                   r"backend_config=\{pads = dense<([^>]*)>.*strides = dense<([^>]*)>")


def program_flops(compiled) -> float:
    """FLOPs of a compiled program: XLA's cost analysis, which counts custom calls as nothing,
    plus each oneDNN convolution pass's 2 · N · C · O · (taps that fall inside the input), the
    rule XLA's cost analysis uses for its own convolutions."""
    cost = compiled.cost_analysis()
    flops = max((cost[0] if isinstance(cost, list) else cost).get("flops", 0.0), 0.0)
    for match in _CALL.finditer(compiled.as_text()):
        result, target, a, b, pads, strides = match.groups()
        dims = lambda text: [int(d) for d in text.strip("[]").split(",")]
        x, w = {"fwd": (a, b), "bwd_data": (result, b), "bwd_weights": (a, result)}[target]
        x, w, pads, strides = dims(x), dims(w), dims(pads), dims(strides)
        pads, strides = pads * (4 // len(pads)), strides * (2 // len(strides))  # dense<1> splats
        taps = 1
        for n, k, s, lo, hi in zip(x[1:3], w[:2], strides, pads[0::2], pads[1::2]):
            out = (n + lo + hi - k) // s + 1
            taps *= sum(0 <= o * s + j - lo < n for o in range(out) for j in range(k))
        flops += 2.0 * x[0] * w[2] * w[3] * taps
    return flops
