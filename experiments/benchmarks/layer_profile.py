"""Per-layer, per-pass times of the benchmark models' convolutions: jgan against PyTorch.

    pip install torch==2.13.0   # benchmark-only
    python experiments/benchmarks/layer_profile.py [--only seed_dcgan:256] [--repeats 5]

The layers are read from the models themselves (every `jgan.nn.Conv` / `ConvTranspose`
call, intercepted while G and D run on one batch). For each, jgan's forward, input gradient and
kernel gradient are timed separately (each its own jitted program, with `jgan.compiler_options()`),
beside PyTorch's forward and forward + backward of the same layer (padding rounded to PyTorch's
symmetric form: the same work, borders mirrored). GFLOP/s is jgan's three passes together, to set
against the matrix-product ceiling `step_speed.py` prints. Medians of `--repeats` calls, ms.
"""
import argparse
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import torch
from jax import lax

import jgan
from cases import make_batch, make_state, select
from jgan import nn as layers
from jgan.cpu import onednn
from jgan.nn import convolution


def model_layers(name: str, batch: int) -> list[tuple]:
    """(player, op, x shape, kernel shape, strides, explicit pads) of every strided-or-not conv."""
    state, images = make_state(name), make_batch(name, batch)
    found = []

    def record(next_fun, args, kwargs, context):
        module = context.module
        if isinstance(module, (layers.Conv, layers.ConvTranspose)) and context.method_name == "__call__":
            x = args[0]
            kernel = (*module.kernel_size, x.shape[-1], module.features)
            found.append((player, type(module).__name__, x.shape, kernel, tuple(module.strides),
                          _pads(module, x.shape, kernel)))
        return next_fun(*args, **kwargs)

    z = jnp.zeros((batch, state.z_dim))
    with nn.intercept_methods(record):
        player = "G"
        fake = jax.eval_shape(lambda: state.g.apply_fn(
            jgan.state.variables(state.g.params, state.g.batch_stats), z, None, train=False))
        player = "D"
        jax.eval_shape(lambda: state.d.apply_fn(
            jgan.state.variables(state.d.params, state.d.batch_stats), images["image"], None,
            train=False))
    assert fake.shape == images["image"].shape
    return found


def _pads(module, x_shape, kernel):
    if not isinstance(module.padding, str):
        return tuple(tuple(p) for p in module.padding)
    if isinstance(module, layers.ConvTranspose):
        return tuple(convolution.conv_transpose_padding(k, s, module.padding)
                     for k, s in zip(kernel[:2], module.strides))
    return tuple(lax.padtype_to_pads(x_shape[1:3], kernel[:2], module.strides, module.padding))


def jgan_ms(op, x_shape, kernel_shape, strides, pads, repeats, impl):
    """Median ms of jgan's forward, input gradient and kernel gradient, and their FLOPs."""
    fn = layers.conv if op == "Conv" else layers.conv_transpose
    f = lambda x, w: fn(x, w, strides, pads, impl=impl)
    x = jax.random.normal(jax.random.key(0), x_shape)
    w = jax.random.normal(jax.random.key(1), kernel_shape) * 0.05
    g = jax.random.normal(jax.random.key(2), jax.eval_shape(f, x, w).shape)
    passes = [lambda x, w, g: f(x, w), lambda x, w, g: jax.vjp(f, x, w)[1](g)[0],
              lambda x, w, g: jax.vjp(f, x, w)[1](g)[1]]
    times, flops = [], 0.0
    for p in passes:
        compiled = jax.jit(p, compiler_options=jgan.compiler_options()).lower(x, w, g).compile()
        flops += onednn.program_flops(compiled)
        times.append(_median_ms(lambda: compiled(x, w, g).block_until_ready(), repeats))
    return times, flops


def torch_ms(op, x_shape, kernel_shape, strides, pads, repeats):
    """Median ms of PyTorch's forward and forward + backward of the same layer."""
    k, _, c_in, c_out = kernel_shape
    lo_hi = [sorted(p) for p in pads]
    if op == "Conv":
        layer = torch.nn.Conv2d(c_in, c_out, k, strides, [hi for _, hi in lo_hi], bias=False)
    else:
        layer = torch.nn.ConvTranspose2d(c_in, c_out, k, strides, [k - 1 - lo for lo, _ in lo_hi],
                                         output_padding=[hi - lo for lo, hi in lo_hi], bias=False)
    x = torch.randn(x_shape[0], x_shape[3], *x_shape[1:3], requires_grad=True)

    def forward():
        with torch.no_grad():
            layer(x)

    return [_median_ms(forward, repeats),
            _median_ms(lambda: layer(x).square().sum().backward(), repeats)]


def _median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="one case, e.g. seed_dcgan:256")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--impl", choices=["auto", "onednn", "xla_cpu"], default="auto",
                        help="jgan's path (jgan.nn): auto = oneDNN where installed")
    args = parser.parse_args()
    cases = select(args.only, names=("seed_dcgan", "dcgan32"))  # mlp2d has no convolutions.
    print(f"jax {jax.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads); "
          f"jgan impl {args.impl} (oneDNN extension built: {onednn.available()})")
    for name, batch in cases:
        print(f"\n{name} batch {batch}\n| layer | jgan fwd / d input / d kernel ms | jgan GFLOP/s "
              "| torch fwd / fwd+bwd ms | torch fwd+bwd / jgan all |\n| --- | --- | --- | --- | --- |")
        for player, op, x_shape, kernel, strides, pads in model_layers(name, batch):
            j, flops = jgan_ms(op, x_shape, kernel, strides, pads, args.repeats, args.impl)
            t = torch_ms(op, x_shape, kernel, strides, pads, args.repeats)
            label = f"{player} {op} {kernel[2]}→{kernel[3]} {kernel[0]}×{kernel[1]} " \
                    f"s{strides[0]} @{x_shape[1]}px"
            print(f"| {label} | {j[0]:.1f} / {j[1]:.1f} / {j[2]:.1f} | {flops / sum(j) / 1e6:.0f} "
                  f"| {t[0]:.1f} / {t[1]:.1f} | {t[1] / sum(j):.2f} |", flush=True)


if __name__ == "__main__":
    main()
