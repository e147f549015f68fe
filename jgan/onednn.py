"""oneDNN convolutions on XLA:CPU, through XLA's FFI (`jgan/native/onednn_conv.cc`).

XLA:CPU runs convolutions through Eigen: forward passes near the machine's matrix-product rate,
but input and kernel gradients well below it (in the `dcgan32` step, 110–180 GFLOP/s against
~210 for a matrix product, on a 2-core Zen 4). oneDNN, the library PyTorch uses on CPU, runs the
three passes of the benchmark models' large layers at 165–210 GFLOP/s together (XLA's
formulations: 139–156; each layer on its own, same machine). Each pass here is one custom call:

- `conv`: y = conv(x, w), `lax.conv_general_dilated` with NHWC / HWIO and explicit padding;
- `conv_transpose`: `lax.conv_transpose` (kernel not transposed), which is the input gradient
  of the strided convolution with the kernel flipped and its channel axes swapped.

Every pass is a `custom_vjp` whose gradients are the other two passes, so gradients of gradients
(R1, WGAN-GP) are oneDNN calls too. Under `jax.jit` with the batch sharded over devices each
device convolves its share; under `jax.vmap` a batched input folds into the convolution's batch.
`available()` says whether the extension was built (on x86-64 Linux, by `pip install`) and
loads; `jgan.layers` falls back to its XLA formulations when it is not. Float32 only.
"""
import ctypes
import functools
import importlib.metadata
import importlib.util
import math
import re
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_batching import custom_vmap
from jax.experimental.custom_partitioning import custom_partitioning
from jax.sharding import NamedSharding, PartitionSpec as P

from jgan import col2im

_TARGETS = ("jgan_conv_fwd", "jgan_conv_bwd_data", "jgan_conv_bwd_weights")


@functools.cache
def available() -> bool:
    """Whether the oneDNN extension is built and registered with XLA:CPU."""
    spec = importlib.util.find_spec("jgan._onednn_conv")
    if spec is None or spec.origin is None:
        return False
    try:
        _load_libdnnl()
        library = ctypes.CDLL(spec.origin)
    except (OSError, StopIteration, importlib.metadata.PackageNotFoundError):
        return False
    for target in _TARGETS:
        jax.ffi.register_ffi_target(target, jax.ffi.pycapsule(getattr(library, target)),
                                    platform="cpu")
    return True


def _load_libdnnl() -> None:
    """Loads the oneDNN wheel's libdnnl.so.3 globally, so the extension's link to it resolves."""
    dist = importlib.metadata.distribution("onednn-cpu-gomp")
    lib = next(f for f in dist.files or () if f.name == "libdnnl.so.3")
    ctypes.CDLL(str(dist.locate_file(lib)), mode=ctypes.RTLD_GLOBAL)


class Geometry(NamedTuple):
    """Shapes of y = conv(x, w): x [N, H, W, C], w [KH, KW, C, O], y [N, OH, OW, O]."""
    x: tuple
    w: tuple
    y: tuple
    strides: tuple
    pads: tuple  # ((lo, hi), (lo, hi))


def _call(target: str, a, b, geo: Geometry):
    """One pass as an XLA custom call; batch-sharded operands stay sharded (`_partition`)."""
    if not available():
        raise RuntimeError("jgan's oneDNN extension is not built or not loadable here "
                           "(it is built by `pip install` on x86-64 Linux)")

    @custom_vmap
    def call(a, b):
        return _PASSES[target](a, b, geo)

    call.def_vmap(lambda size, in_batched, a, b: (
        _batched_call(target, geo, size, tuple(in_batched), a, b), True))
    return call(a, b)


def _batched_call(target: str, geo: Geometry, size: int, in_batched: tuple, a, b):
    """`jax.vmap` of one pass: an extra axis on the activations alone folds into the batch;
    anything else (kernels or kernel gradients per element) runs element by element."""
    if in_batched == (True, False) and target != "jgan_conv_bwd_weights":
        n = geo.x[0] * size
        out = _call(target, a.reshape(n, *a.shape[2:]), b,
                    geo._replace(x=(n, *geo.x[1:]), y=(n, *geo.y[1:])))
        return out.reshape(size, geo.x[0], *out.shape[1:])
    a, b = (v if batched else jnp.broadcast_to(v, (size, *v.shape))
            for v, batched in zip((a, b), in_batched))
    return jax.lax.map(lambda ab: _call(target, *ab, geo), (a, b))


def _local_call(a, b, geo: Geometry, target: str):
    out_shape = {"jgan_conv_fwd": geo.y, "jgan_conv_bwd_data": geo.x,
                 "jgan_conv_bwd_weights": geo.w}[target]
    out = jax.ShapeDtypeStruct(out_shape, jnp.float32)
    pads = np.asarray(geo.pads, np.int64).ravel()  # lo_h, hi_h, lo_w, hi_w
    return jax.ffi.ffi_call(target, out)(a, b, strides=np.asarray(geo.strides, np.int64), pads=pads)


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


def _partition(target, geo, mesh, arg_shapes, result_shape):
    batch = _batch_axes(arg_shapes)
    arg_shardings, result_sharding = _shardings(mesh, target, batch)
    n = geo.x[0] // math.prod(mesh.shape[name] for name in batch)
    local = geo._replace(x=(n, *geo.x[1:]), y=(n, *geo.y[1:]))

    def lower(a, b):
        out = _local_call(a, b, local, target)
        return jax.lax.psum(out, batch) if batch and target == "jgan_conv_bwd_weights" else out

    return mesh, lower, result_sharding, arg_shardings


def _partitioned_pass(target: str):
    def run(a, b, geo: Geometry):
        return _local_call(a, b, geo, target)

    op = custom_partitioning(run, static_argnums=(2,))
    reduction = ("b",) if target == "jgan_conv_bwd_weights" else ()
    op.def_partition(
        partition=functools.partial(_partition, target),
        infer_sharding_from_operands=lambda geo, mesh, arg_shapes, result_shape: _shardings(
            mesh, target, _batch_axes(arg_shapes))[1],
        sharding_rule=_RULES[target], reduction_factors=reduction,
        need_replication_factors=tuple(f for f in dict.fromkeys(_RULES[target]) if f.isalpha()
                                       and f != "b"))
    return op


_PASSES = {target: _partitioned_pass(target) for target in _TARGETS}


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _forward(x, w, geo: Geometry):
    return _call("jgan_conv_fwd", x, w, geo)


def _forward_vjp(geo, res, g):
    x, w = res
    return _input_grad(g, w, geo), _kernel_grad(x, g, geo)


# Below this many input channels (image layers) an input gradient is col2im's: for one channel
# 1.4–1.7x faster than oneDNN's on this project's machine (the seed DCGAN's 1→64 layer: 0.67
# against 0.97 ms at batch 64, 2.5 against 4.1 at 256), for three about as fast, and free of
# oneDNN's many small parallel regions, which stall when another OpenMP runtime's threads
# (PyTorch's, in the benchmarks) spin beside them: 10.6 ms at batch 256 there.
_MIN_ONEDNN_INPUT_GRAD_CHANNELS = 16


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _input_grad(g, w, geo: Geometry):
    if geo.x[3] >= _MIN_ONEDNN_INPUT_GRAD_CHANNELS:
        return _call("jgan_conv_bwd_data", g, w, geo)
    pads = col2im.input_grad_pads(geo.x[1:3], geo.y[1:3], geo.w[:2], geo.strides, geo.pads)
    return col2im.conv_transpose(g, jnp.flip(w, (0, 1)).swapaxes(2, 3), geo.strides, pads)


def _input_grad_vjp(geo, res, h):  # <h, B(g, w)> = <conv(h, w), g>
    g, w = res
    return _forward(h, w, geo), _kernel_grad(h, g, geo)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _kernel_grad(x, g, geo: Geometry):
    return _call("jgan_conv_bwd_weights", x, g, geo)


def _kernel_grad_vjp(geo, res, h):  # <h, K(x, g)> = <conv(x, h), g> = <x, B(g, h)>
    x, g = res
    return _input_grad(g, h, geo), _forward(x, h, geo)


_forward.defvjp(lambda x, w, geo: (_forward(x, w, geo), (x, w)), _forward_vjp)
_input_grad.defvjp(lambda g, w, geo: (_input_grad(g, w, geo), (g, w)), _input_grad_vjp)
_kernel_grad.defvjp(lambda x, g, geo: (_kernel_grad(x, g, geo), (x, g)), _kernel_grad_vjp)


def supports(x, kernel, pads, transposed: bool = False) -> bool:
    """Whether the extension is here and `conv` (`conv_transpose`) can take these operands."""
    return available() and _unsupported(x, kernel, pads, transposed) is None


def _unsupported(x, kernel, pads, transposed: bool):
    """Why oneDNN cannot take these operands, or None: it needs float32, 4-D operands, and
    padding of the (underlying strided) convolution within 0 … k − 1 on each side."""
    conv_pads = _transposed_pads(kernel, pads) if transposed else pads
    if x.ndim != 4 or kernel.ndim != 4 or x.dtype != jnp.float32 or kernel.dtype != jnp.float32:
        return (f"oneDNN convolutions take float32 NHWC / HWIO operands; got {x.dtype}"
                f"{list(x.shape)} and {kernel.dtype}{list(kernel.shape)}")
    if not all(0 <= p < k for (lo, hi), k in zip(conv_pads, kernel.shape[:2]) for p in (lo, hi)):
        return (f"padding {tuple(map(tuple, pads))} of a {kernel.shape[0]}x{kernel.shape[1]} "
                f"kernel is outside what oneDNN takes (0 to k - 1 per side"
                f"{', after k - 1 - p for a transposed convolution' if transposed else ''})")
    return None


def _check(x, kernel, pads, transposed: bool = False) -> None:
    reason = _unsupported(x, kernel, pads, transposed)
    if reason is not None:
        raise ValueError(reason)


def _transposed_pads(kernel, pads) -> tuple:
    return tuple((k - 1 - lo, k - 1 - hi) for k, (lo, hi) in zip(kernel.shape[:2], pads))


def conv(x, kernel, strides: tuple, pads: tuple):
    """`lax.conv_general_dilated(x, kernel, strides, pads)`, NHWC / HWIO."""
    _check(x, kernel, pads)
    out = [(n + lo + hi - k) // s + 1
           for n, k, s, (lo, hi) in zip(x.shape[1:3], kernel.shape[:2], strides, pads)]
    geo = Geometry(x.shape, kernel.shape, (x.shape[0], *out, kernel.shape[3]), strides, pads)
    return _forward(x, kernel, geo)


def conv_transpose(x, kernel, strides: tuple, pads: tuple):
    """`lax.conv_transpose(x, kernel, strides, pads)`, NHWC / HWIO: the input gradient of the
    strided convolution z -> x with the kernel flipped, its channel axes swapped, padded
    (k − 1 − lo, k − 1 − hi)."""
    _check(x, kernel, pads, transposed=True)
    out = [(n - 1) * s + 1 + lo + hi - k + 1
           for n, k, s, (lo, hi) in zip(x.shape[1:3], kernel.shape[:2], strides, pads)]
    w = jnp.flip(kernel, (0, 1)).swapaxes(2, 3)
    geo = Geometry((x.shape[0], *out, kernel.shape[3]), w.shape, x.shape, strides,
                   _transposed_pads(kernel, pads))
    return _input_grad(x, w, geo)


_CALL = re.compile(r"= f32\[([\d,]*)\][^=]*custom-call\(.*custom_call_target=\"jgan_conv_(\w+)\", "
                   r"operand_layout_constraints=\{f32\[([\d,]*)\]\S*, f32\[([\d,]*)\].*"
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
