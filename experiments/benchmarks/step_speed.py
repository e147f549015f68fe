"""Training-step speed on this machine: jgan (XLA, compiled) against PyTorch eager, same model.

    pip install torch==2.13.0   # benchmark-only
    python experiments/benchmarks/step_speed.py [--rounds 7] [--steps 5] [--only seed_dcgan:64]

After warm-up the two frameworks alternate (A/B) in rounds of `--steps` steps; the table gives
median ms/step, images/s, the ratio torch_ms / jgan_ms (> 1: jgan is faster) and the range of
that ratio over the rounds (each round's pair: how far the machine's noise moves it), the time
`jgan.create_state` takes, jgan's compile time (lowering included),
the FLOPs per step (XLA's cost analysis, plus the oneDNN convolution calls counted by the same
rule: `jgan.onednn.program_flops`) and the GFLOP/s that achieves, beside a 4096² float32 matrix product
through XLA and PyTorch (the ceiling). Peak memory is the resident-set high-water mark of a child
process that imports both frameworks and runs only one of them (`--peak`).

Both frameworks run under the malloc setting `jgan.cli` uses on CPU (`jgan.host.keep_freed_memory`:
glibc reuses freed memory instead of mapping it afresh); `--malloc default` leaves glibc as it is.
jgan runs its steps on the calling thread, as `jgan.cli` does (`jax_cpu_enable_async_dispatch`
off: the scratch then comes from glibc's main heap, which keeps any size; see `jgan.host`);
`--dispatch async` keeps JAX's default. The step is jitted as `jgan.parallel.Engine` jits it
(`jgan.compiler_options()`, `jgan.donate_argnums()`: no donation on CPU). Its convolutions take
the models' default path (`--impl auto`: oneDNN where jgan's extension is built); `--impl fast`
times jgan's XLA formulations instead.
"""
import argparse
import pathlib
import statistics
import subprocess
import sys
import time

import jax
import torch

import jgan
from cases import CASES, make_batch, make_state, select
from torch_reference import MODELS, make_step


def jgan_runner(name, batch, conv_impl="auto"):
    t0 = time.perf_counter()
    state = jax.block_until_ready(make_state(name, conv_impl))
    init_s = time.perf_counter() - t0
    images = make_batch(name, batch)
    t0 = time.perf_counter()
    step = jax.jit(jgan.make_train_step(), donate_argnums=jgan.donate_argnums(),
                   compiler_options=jgan.compiler_options())
    compiled = step.lower(state, images).compile()
    compile_s = time.perf_counter() - t0
    flops = jgan.onednn.program_flops(compiled)
    box = [state]

    def run(steps):
        for _ in range(steps):
            box[0], metrics = compiled(box[0], images)
        jax.block_until_ready(metrics)

    return run, init_s, compile_s, flops


def torch_runner(name, batch):
    G, D, z_dim, shape = MODELS[CASES[name][4]]()
    step = make_step(G, D, z_dim)
    real = torch.rand(batch, *shape) * 2 - 1
    return lambda steps: [step(real) for _ in range(steps)]


def matmul_gflops():
    a = jax.random.normal(jax.random.key(0), (4096, 4096))
    mm = jax.jit(lambda a: a @ a)
    mm(a).block_until_ready()
    t = min(_timed(lambda: mm(a).block_until_ready()) for _ in range(5))
    ta = torch.randn(4096, 4096)
    torch_t = min(_timed(lambda: ta @ ta) for _ in range(5))
    return 2 * 4096 ** 3 / t / 1e9, 2 * 4096 ** 3 / torch_t / 1e9


def _conv_path(impl: str) -> str:
    onednn = impl == "onednn" or (impl == "auto" and jgan.onednn.available())
    return "oneDNN (jgan.onednn)" if onednn else "XLA formulations (jgan.layers)"


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def peak_rss_mb(framework, name, batch, args):
    """Peak RSS of a child process that runs only `framework` for a few steps."""
    out = subprocess.run([sys.executable, __file__, "--peak", framework, "--only", f"{name}:{batch}",
                          "--malloc", args.malloc, "--dispatch", args.dispatch, "--impl", args.impl],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--only", help="one case, e.g. seed_dcgan:64")
    parser.add_argument("--malloc", choices=["keep", "default"], default="keep",
                        help="keep: jgan.host.keep_freed_memory() for both frameworks")
    parser.add_argument("--dispatch", choices=["sync", "async"], default="sync",
                        help="sync: jgan's steps run on the calling thread, as in jgan.cli")
    parser.add_argument("--impl", choices=["auto", "onednn", "fast"], default="auto",
                        help="the convolution models' conv_impl (jgan.layers)")
    parser.add_argument("--peak", choices=["jgan", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    jax.config.update("jax_cpu_enable_async_dispatch", args.dispatch == "async")  # Before any use.
    if args.malloc == "keep" and not jgan.host.keep_freed_memory():
        sys.exit("--malloc keep needs glibc; use --malloc default")
    cases = select(args.only)
    if args.peak:
        n, b = cases[0]
        run = jgan_runner(n, b, args.impl)[0] if args.peak == "jgan" else torch_runner(n, b)
        run(3)
        # VmHWM (not ru_maxrss, which a child inherits from its parent across exec).
        status = pathlib.Path("/proc/self/status").read_text()
        print(int(status.split("VmHWM:")[1].split()[0]) / 1024)
        return
    xla_mm, torch_mm = matmul_gflops()
    print(f"machine: {jax.devices()[0].device_kind}, {torch.get_num_threads()} threads; "
          f"jax {jax.__version__}, torch {torch.__version__}; malloc: {args.malloc}; "
          f"dispatch: {args.dispatch}; donated: {jgan.donate_argnums() or 'none'}; convolutions: "
          f"{_conv_path(args.impl)}\n")
    print("| model | batch | jgan ms | torch ms | ratio | round ratios | jgan img/s | torch img/s "
          "| init s | compile s | GFLOP/step | jgan GFLOP/s | jgan peak MB | torch peak MB |")
    print("|" + " --- |" * 14)
    for name, batch in cases:
        j_run, init_s, compile_s, flops = jgan_runner(name, batch, args.impl)
        t_run = torch_runner(name, batch)
        j_run(2), t_run(2)  # Warm-up.
        j_ms, t_ms = [], []
        for _ in range(args.rounds):
            j_ms.append(_timed(lambda: j_run(args.steps)) / args.steps * 1e3)
            t_ms.append(_timed(lambda: t_run(args.steps)) / args.steps * 1e3)
        j, t = statistics.median(j_ms), statistics.median(t_ms)
        pairs = [b / a for a, b in zip(j_ms, t_ms)]
        print(f"| {name} | {batch} | {j:.1f} | {t:.1f} | {t / j:.2f} | "
              f"{min(pairs):.2f}–{max(pairs):.2f} | {batch / j * 1e3:.0f} | "
              f"{batch / t * 1e3:.0f} | {init_s:.1f} | {compile_s:.1f} | {flops / 1e9:.2f} | {flops / j / 1e6:.0f} | "
              f"{peak_rss_mb('jgan', name, batch, args):.0f} | "
              f"{peak_rss_mb('torch', name, batch, args):.0f} |",
              flush=True)
    print(f"\n4096² float32 matmul: XLA {xla_mm:.0f} GFLOP/s, PyTorch {torch_mm:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
