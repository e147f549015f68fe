"""FLOPs of one compiled training step, from XLA's cost analysis (no timing).

On CPU the convolutions may be oneDNN calls, which XLA's cost analysis does not see: their FLOPs
are added by the same rule (`onednn.program_flops`), but not their bytes.

    python experiments/benchmarks/step_flops.py [--config experiments/configs/dcgan32_cifar10.py]

Prints the config's global batch, the FLOPs and bytes accessed of one step, and the compute floor
on a few accelerators (FLOPs / peak), the basis of the TPU estimate in docs/tpu.md.
"""
import argparse
import runpy


import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from jgan.cpu import onednn  # noqa: E402
from jgan.run import loop  # noqa: E402

_PEAK_TFLOPS = {"TPU v4 chip (bf16)": 275.0, "TPU v4-8 (4 chips)": 1100.0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="experiments/configs/dcgan32_cifar10.py")
    args = parser.parse_args()
    config = runpy.run_path(args.config)["get_config"]()
    state = loop.create_state_from_config(config)
    n, b = config.loss.n_critic, config.batch_size
    lead = (n, b) if n > 1 else (b,)
    batch = {"image": jnp.zeros((*lead, *config.model.image_shape))}
    if config.model.num_classes:
        batch["label"] = jnp.zeros(lead, jnp.int32)
    compiled = jax.jit(loop.make_step_fn(config)).lower(state, batch).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    flops = onednn.program_flops(compiled)
    print(f"| config | batch | GFLOP/step | GB accessed/step |\n| --- | --- | --- | --- |\n"
          f"| {args.config} | {b} | {flops / 1e9:.1f} | {cost['bytes accessed'] / 1e9:.2f} |")
    for name, tflops in _PEAK_TFLOPS.items():
        print(f"compute floor on {name}: {flops / (tflops * 1e12) * 1e3:.3f} ms/step")


if __name__ == "__main__":
    main()
