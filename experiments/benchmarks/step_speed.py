"""Training-step speed on this machine: jgan (XLA, compiled) against PyTorch eager, same model.

    pip install torch==2.13.0   # benchmark-only
    python experiments/benchmarks/step_speed.py [--rounds 7] [--steps 5] [--only seed_dcgan:64]
    python experiments/benchmarks/step_speed.py --precision bfloat16   # the mixed-precision rows

Each framework runs in a child process of its own (`Worker`: sharing a process, they would share
one OpenMP runtime), which imports both frameworks and runs only one. After warm-up the parent
alternates them (A/B) in rounds of `--steps` steps; the table gives median ms/step, images/s,
the ratio torch_ms / jgan_ms (> 1: jgan is faster) and the range of that ratio over the rounds
(each round's pair: how far the machine's noise moves it), the time `jgan.create_state` takes,
jgan's compile time (lowering included), the FLOPs per step (XLA's cost analysis, plus the
oneDNN convolution calls counted by the same rule: `jgan.cpu.onednn.program_flops`) and the GFLOP/s
that achieves, beside a 4096² float32 matrix product through XLA and PyTorch (the ceiling), and
each child's peak memory (resident-set high-water mark).

Both frameworks run under the malloc setting jgan's harness uses on CPU (`jgan.cpu.host.keep_freed_memory`:
glibc reuses freed memory instead of mapping it afresh); `--malloc default` leaves glibc as it is.
jgan runs its steps on the calling thread, as `jgan train` does (`jax_cpu_enable_async_dispatch`
off: the scratch then comes from glibc's main heap, which keeps any size; see `jgan.cpu.host`);
`--dispatch async` keeps JAX's default. The step is jitted as `jgan.jit_step` jits it
(`jgan.compiler_options()`, `jgan.donate_argnums()`: no donation on CPU). Its convolutions take
the models' default path (`--impl auto`: oneDNN where jgan-onednn is installed); `--impl xla_cpu`
times jgan's XLA formulations instead.

`--precision bfloat16` gives the mixed-precision table instead: jgan's "bfloat16" policy
(`jgan.nn.precision`), PyTorch under `torch.autocast("cpu", torch.bfloat16)` and jgan in float32,
three workers alternated round by round; the ratios are torch bf16 / jgan bf16 and jgan f32 /
jgan bf16 (> 1: jgan bf16 is faster), each with its range over the rounds.
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
from jgan.cpu import host, onednn
from cases import CASES, make_batch, make_state, select
from torch_reference import MODELS, make_step


def jgan_runner(name, batch, conv_impl="auto", precision="float32"):
    t0 = time.perf_counter()
    state = jax.block_until_ready(make_state(name, conv_impl, precision))
    init_s = time.perf_counter() - t0
    images = make_batch(name, batch)
    t0 = time.perf_counter()
    step = jax.jit(jgan.make_train_step(), donate_argnums=jgan.donate_argnums(),
                   compiler_options=jgan.compiler_options())
    compiled = step.lower(state, images).compile()
    compile_s = time.perf_counter() - t0
    flops = onednn.program_flops(compiled)
    box = [state]

    def run(steps):
        for _ in range(steps):
            box[0], metrics = compiled(box[0], images)
        jax.block_until_ready(metrics)

    return run, init_s, compile_s, flops


def torch_runner(name, batch, precision="float32"):
    G, D, z_dim, shape = MODELS[CASES[name][4]]()
    step = make_step(G, D, z_dim, bf16=precision == "bfloat16")
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
    dnn = impl == "onednn" or (impl == "auto" and onednn.available())
    return "oneDNN (jgan.cpu.onednn)" if dnn else "XLA formulations (jgan.cpu.conv)"


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


class Worker:
    """One framework's steps in a child process of their own, timed on request.

    jgan's oneDNN calls and PyTorch share one OpenMP runtime when they share a process (PyTorch
    ships libgomp.so.1 and the dynamic linker hands it to oneDNN too). After XLA's threads had
    called oneDNN, PyTorch's steps slowed (docs/cpu_performance.md), likely
    because the runtime then manages more threads than there are CPUs and stops spinning between
    parallel regions. Each framework therefore runs in its own process; the parent alternates
    them round by round, so both see the same machine.
    """

    def __init__(self, framework, name, batch, args, precision="float32"):
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", framework, "--only", f"{name}:{batch}",
             "--malloc", args.malloc, "--dispatch", args.dispatch, "--impl", args.impl,
             "--precision", precision],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.init_s, self.compile_s, self.flops = map(float, self._reply().split())

    def _reply(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker {self.proc.args[3]} exited "
                               f"({self.proc.wait()}); its error is above")
        return line

    def ms_per_step(self, steps: int) -> float:
        self.proc.stdin.write(f"run {steps}\n")
        self.proc.stdin.flush()
        return float(self._reply())

    def peak_mb(self) -> float:
        """The child's resident-set high-water mark (VmHWM); it exits after reporting it."""
        self.proc.stdin.write("peak\n")
        self.proc.stdin.flush()
        peak = float(self._reply())
        self.proc.wait()
        return peak


def serve(framework, name, batch, impl, precision):
    """The child's side of `Worker`: build and warm up, then time steps until asked for the peak."""
    if framework == "jgan":
        run, init_s, compile_s, flops = jgan_runner(name, batch, impl, precision)
    else:
        run, init_s, compile_s, flops = torch_runner(name, batch, precision), 0.0, 0.0, 0.0
    run(2)  # Warm-up.
    print(init_s, compile_s, flops, flush=True)
    for request in sys.stdin:
        if request.startswith("run"):
            steps = int(request.split()[1])
            print(_timed(lambda: run(steps)) / steps * 1e3, flush=True)
        else:  # VmHWM, not ru_maxrss (which a child inherits from its parent across exec).
            status = pathlib.Path("/proc/self/status").read_text()
            print(int(status.split("VmHWM:")[1].split()[0]) / 1024, flush=True)
            return


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--only", help="one case, e.g. seed_dcgan:64")
    parser.add_argument("--malloc", choices=["keep", "default"], default="keep",
                        help="keep: jgan.cpu.host.keep_freed_memory() for both frameworks")
    parser.add_argument("--dispatch", choices=["sync", "async"], default="sync",
                        help="sync: jgan's steps run on the calling thread, as in jgan train")
    parser.add_argument("--impl", choices=["auto", "onednn", "xla_cpu"], default="auto",
                        help="the convolution models' conv_impl (jgan.nn)")
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                        help="bfloat16: jgan bf16 against PyTorch autocast-bf16 and jgan f32")
    parser.add_argument("--worker", choices=["jgan", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    jax.config.update("jax_cpu_enable_async_dispatch", args.dispatch == "async")  # Before any use.
    if args.malloc == "keep" and not host.keep_freed_memory():
        sys.exit("--malloc keep needs glibc; use --malloc default")
    cases = select(args.only)
    if args.worker:
        serve(args.worker, *cases[0], args.impl, args.precision)
        return
    xla_mm, torch_mm = matmul_gflops()
    print(f"machine: {jax.devices()[0].device_kind}, {torch.get_num_threads()} threads; "
          f"jax {jax.__version__}, torch {torch.__version__}; malloc: {args.malloc}; "
          f"dispatch: {args.dispatch}; donated: {jgan.donate_argnums() or 'none'}; convolutions: "
          f"{_conv_path(args.impl)}; bf16 convolutions: "
          f"{'oneDNN' if onednn.bf16_supported() else 'XLA'}\n")
    if args.precision == "bfloat16":
        _bf16_table(cases, args)
        print(f"\n4096² float32 matmul: XLA {xla_mm:.0f} GFLOP/s, PyTorch {torch_mm:.0f} GFLOP/s")
        return
    print("| model | batch | jgan ms | torch ms | ratio | round ratios | jgan img/s | torch img/s "
          "| init s | compile s | GFLOP/step | jgan GFLOP/s | jgan peak MB | torch peak MB |")
    print("|" + " --- |" * 14)
    for name, batch in cases:
        jgan_worker = Worker("jgan", name, batch, args)
        torch_worker = Worker("torch", name, batch, args)
        j_ms, t_ms = [], []
        for _ in range(args.rounds):
            j_ms.append(jgan_worker.ms_per_step(args.steps))
            t_ms.append(torch_worker.ms_per_step(args.steps))
        j, t = statistics.median(j_ms), statistics.median(t_ms)
        pairs = [b / a for a, b in zip(j_ms, t_ms)]
        flops = jgan_worker.flops
        print(f"| {name} | {batch} | {j:.1f} | {t:.1f} | {t / j:.2f} | "
              f"{min(pairs):.2f}–{max(pairs):.2f} | {batch / j * 1e3:.0f} | "
              f"{batch / t * 1e3:.0f} | {jgan_worker.init_s:.1f} | {jgan_worker.compile_s:.1f} | "
              f"{flops / 1e9:.2f} | {flops / j / 1e6:.0f} | {jgan_worker.peak_mb():.0f} | "
              f"{torch_worker.peak_mb():.0f} |", flush=True)
    print(f"\n4096² float32 matmul: XLA {xla_mm:.0f} GFLOP/s, PyTorch {torch_mm:.0f} GFLOP/s")


def _bf16_table(cases, args):
    """jgan bf16, PyTorch autocast-bf16 and jgan f32 of each case, alternated round by round."""
    print("| model | batch | jgan bf16 ms | torch bf16 ms | jgan f32 ms | torch bf16 / jgan bf16 "
          "| round ratios | jgan f32 / jgan bf16 | round ratios | jgan bf16 compile s "
          "| jgan bf16 peak MB | torch bf16 peak MB |")
    print("|" + " --- |" * 12)
    for name, batch in cases:
        workers = [Worker("jgan", name, batch, args, "bfloat16"),
                   Worker("torch", name, batch, args, "bfloat16"),
                   Worker("jgan", name, batch, args, "float32")]
        ms = [[], [], []]
        for _ in range(args.rounds):
            for worker, times in zip(workers, ms):
                times.append(worker.ms_per_step(args.steps))
        j16, t16, j32 = (statistics.median(times) for times in ms)
        vs_torch = [t / j for j, t in zip(ms[0], ms[1])]
        vs_f32 = [f / j for j, f in zip(ms[0], ms[2])]
        peaks = [w.peak_mb() for w in workers]
        print(f"| {name} | {batch} | {j16:.1f} | {t16:.1f} | {j32:.1f} | {t16 / j16:.2f} | "
              f"{min(vs_torch):.2f}–{max(vs_torch):.2f} | {j32 / j16:.2f} | "
              f"{min(vs_f32):.2f}–{max(vs_f32):.2f} | {workers[0].compile_s:.1f} | "
              f"{peaks[0]:.0f} | {peaks[1]:.0f} |", flush=True)


if __name__ == "__main__":
    main()
