"""Where a training step's compile time goes: tracing, lowering, and XLA's kernels by origin.

    python experiments/benchmarks/compile_profile.py [--only dcgan32:64]

XLA:CPU turns every distinct fused kernel into code twice over (its MLIR fusion emitter, then
LLVM), on a thread pool, so on a few cores the compile time follows the number of distinct
kernels. For each step this prints the wall time of tracing, lowering and XLA's compile (in the
last, LLVM's part), then the kernels XLA compiled, grouped by the part of the step they come
from (the op_name of each fusion's root op, so ops fused into another part's kernel count there),
with the fusion emitter's CPU seconds. The kernel counts are deterministic; the seconds drift
with the machine like every timing.
"""
import argparse
import collections
import gzip
import json
import pathlib
import re
import tempfile
import time

import jax

import jgan
from cases import make_batch, make_state, select

_PHASES = ("CpuCompiler::RunBackend", "Codegen")


def profile(name: str, batch: int):
    """(seconds by phase, {origin: [kernels, ops, emitter CPU s]}) of one cold step compile."""
    state, images = make_state(name), make_batch(name, batch)
    step = jax.jit(jgan.make_train_step(), donate_argnums=jgan.donate_argnums(),
                   compiler_options=jgan.compiler_options())
    t0 = time.perf_counter()
    traced = step.trace(state, images)
    t1 = time.perf_counter()
    lowered = traced.lower()
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as logdir:
        with jax.profiler.trace(logdir, create_perfetto_trace=True):
            compiled = lowered.compile()
        t3 = time.perf_counter()
        trace_file, = pathlib.Path(logdir).rglob("*.trace.json.gz")
        events = [e for e in json.load(gzip.open(trace_file))["traceEvents"] if e.get("ph") == "X"]
    kernels = [e for e in events if e["name"] == "FusionCompiler::Compile"]
    if not kernels:
        raise RuntimeError("the profile holds no FusionCompiler::Compile events: this XLA names "
                           "its kernel compiles differently; update compile_profile.py")
    phases = {e["name"]: e["dur"] / 1e6 for e in events if e["name"] in _PHASES}
    seconds = {"trace": t1 - t0, "lower": t2 - t1, "XLA compile": t3 - t2,
               "of which LLVM": phases.get("Codegen", float("nan"))}
    origins = _fusion_origins(compiled.as_text())
    groups = collections.defaultdict(lambda: [0, 0, 0.0])
    for e in kernels:
        fusion = e["args"]["module"].removeprefix("__compute_module_").removesuffix("_kernel_module")
        group = groups[_group(origins.get(fusion))]
        group[0] += 1
        group[1] += int(e["args"].get("op_count", 0))
        group[2] += e["dur"] / 1e6
    return seconds, dict(groups)


def _fusion_origins(hlo: str) -> dict:
    """Fusion name -> its op_name metadata (None if XLA made it without one)."""
    origins = {}
    for line in hlo.splitlines():
        fusion = re.match(r"\s*(?:ROOT )?%([\w.\-]+) = .* fusion\(", line)
        if fusion:
            op_name = re.search(r'op_name="([^"]*)"', line)
            origins[fusion.group(1)] = op_name.group(1) if op_name else None
    return origins


def _group(op_name) -> str:
    if op_name is None:
        return "made by XLA (split reductions, layout copies)"
    for model in ("Generator", "Discriminator"):
        if model in op_name:
            return f"{model[0]} {'backward' if 'transpose(' in op_name else 'forward'}"
    for scope, group in (("optimizer/", "optimizers"), ("g_ema/", "G-EMA"),
                         ("grad_norm/", "gradient norms")):
        if scope in op_name:  # jgan.step's named scopes
            return group
    if re.search(r"threefry|random|_uniform|_normal", op_name):
        return "random numbers"
    return "losses and the rest"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="one case, e.g. dcgan32:64")
    args = parser.parse_args()
    cases = select(args.only)
    print(f"jax {jax.__version__}, {jax.devices()[0].device_kind}, options "
          f"{jgan.compiler_options()}")
    for name, batch in cases:
        seconds, groups = profile(name, batch)
        print(f"\n{name} batch {batch}: " + ", ".join(f"{k} {v:.2f} s" for k, v in seconds.items()))
        print("| kernels from | kernels | ops | fusion emitter CPU s |\n| --- | --- | --- | --- |")
        for group, (n, ops, cpu) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
            print(f"| {group} | {n} | {ops} | {cpu:.2f} |")
        n, ops, cpu = (sum(g[i] for g in groups.values()) for i in range(3))
        print(f"| all | {n} | {ops} | {cpu:.2f} |", flush=True)


if __name__ == "__main__":
    main()
