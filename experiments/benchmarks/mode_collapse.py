"""Mode collapse on 2-D mixtures: jgan configurations beside PacGAN's Table 1.

    python experiments/benchmarks/mode_collapse.py [--seeds 10] [--only ring] [--setups jgan,gan]

Each setup is a jgan config (`setup_config`: the model, loss, optimizers with their learning-rate
schedule and EMA that `jgan train` would read) trained from `--seeds` seeds at once (the train step `vmap`ped over seeds, the
steps in a `lax.scan`, data drawn inside the compiled loop), then evaluated by the PacGAN
protocol (`jgan.metrics.modes`: 2 500 samples from a fixed z, high quality = within 3 std of
the nearest mode). The table gives mean ± standard error over seeds of modes covered, % high
quality samples and reverse KL, under PacGAN's published rows.
"""
import argparse
import functools
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import jgan
from jgan import optimizers, regularizers
from jgan.data import toy2d
from jgan.metrics.modes import mode_stats
from jgan.run import loop
from jgan.run.configs import default

# PacGAN (Lin et al. 2018), Table 1: modes, % high quality, reverse KL.
PACGAN = {
    "ring": {"GAN": (6.3, 98.2, 0.45), "PacGAN2": (7.9, 95.6, 0.07)},
    "grid": {"GAN": (17.3, 94.8, 0.70), "PacGAN4": (24.8, 93.6, 0.04)},
}

# jgan's configuration, chosen by 1–2-seed probes on this CPU: PacGAN's packing (m = 2) and
# generator (BatchNorm, ReLU) at width 128, Adam 1e-3 decayed linearly to 0 (the last steps
# refine instead of hopping between modes), batch 256 packs, the raw G. PacGAN trained 400
# epochs of 100 000 points at batch 100 (400 000 steps) with 400/200 units; a CPU budget of
# minutes allows 8 000 steps, so the grid (whose modes came out too wide at 1e-3) uses 3e-4.
# `gan` is the same without packing. An entry named after a dataset overrides for that dataset.
_JGAN = dict(pack=2, loss="non_saturating", lr=1e-3, lr_decay=True, b1=0.5, b2=0.99, batch=256,
             steps=8000, ema=False, model=dict(g_hidden=128, d_hidden=128), grid=dict(lr=3e-4))
SETUPS = {"jgan": _JGAN, "gan": {**_JGAN, "pack": 1}}
_CHUNK = 1000  # Steps per compiled call: progress is printed between calls.


def setup_config(setup: dict, dataset: str):
    """The jgan config of `setup` on `dataset` (what `jgan train` would read)."""
    config = default.get_config()
    config.num_steps, config.batch_size = setup["steps"], setup["batch"] * setup["pack"]
    config.model.update(dict(name="mlp2d", z_dim=2, image_shape=(2,),
                             kwargs=dict(pack=setup["pack"], **setup["model"])))
    config.loss.update(dict(name=setup["loss"], r1_weight=setup.get("r1", 0.0)))
    for player in ("g", "d"):
        config.optimizer[player].update(dict(
            name="adam", learning_rate=setup["lr"], b1=setup["b1"], b2=setup["b2"],
            # Linear decay to 0: the last steps refine instead of hopping between modes.
            schedule="linear" if setup.get("lr_decay") else "constant"))
    config.ema.update(dict(decay=setup.get("ema_decay", 0.999),
                           rampup=setup.get("ema_rampup", 0.0)))  # The setups' published EMA.
    config.dataset.name = dataset
    return config


def build(setup: dict, dataset: str, num_seeds: int):
    """(states of seeds 0..num_seeds-1, the step vmapped over them) from `setup_config`."""
    config = setup_config(setup, dataset)
    G, D = loop.build_models(config)
    g_tx, d_tx = (optimizers.from_config(config.optimizer[player], config.num_steps)
                  for player in ("g", "d"))
    create = lambda key: jgan.create_state(key, G, D, g_tx, d_tx, z_dim=config.model.z_dim,
                                           image_shape=tuple(config.model.image_shape),
                                           regularizers=regularizers.from_config(config.loss))
    states = jax.vmap(create)(jax.vmap(jax.random.key)(jnp.arange(num_seeds)))
    return states, jax.vmap(loop.make_step_fn(config))


def draw(dataset: str, batch: int, seed, i):
    """One seed's real batch i: a uniform mode plus Gaussian noise."""
    centres, std = toy2d.modes(dataset)
    centres = jnp.asarray(centres, jnp.float32)
    key = jax.random.fold_in(jax.random.key(1_000 + seed), i)
    k_mode, k_noise = jax.random.split(key)
    modes = jax.random.randint(k_mode, (batch,), 0, len(centres))
    return centres[modes] + std * jax.random.normal(k_noise, (batch, 2))


def train(setup: dict, dataset: str, num_seeds: int) -> list[dict]:
    """Trains `setup` on `dataset` from seeds 0..num_seeds-1; returns each seed's mode stats."""
    states, step = build(setup, dataset, num_seeds)
    batch = setup["batch"] * setup["pack"]

    draw_seeds = jax.vmap(functools.partial(draw, dataset, batch), (0, None))

    @jax.jit
    def run(states, start):
        def body(states, i):
            return step(states, {"image": draw_seeds(jnp.arange(num_seeds), i)})[0], None
        return lax.scan(body, states, start + jnp.arange(_CHUNK))[0]

    for start in range(0, setup["steps"], _CHUNK):
        states = run(states, start)
    centres, std = toy2d.modes(dataset)
    samples = jax.vmap(lambda s: jgan.sample(s, jax.random.key(0), 2500, ema=setup["ema"]))(states)
    return [mode_stats(s, np.asarray(centres), std) for s in np.asarray(samples)]


def summarise(stats: list[dict]) -> tuple:
    """(mean, standard error) of modes, % high quality and reverse KL over seeds."""
    rows = np.array([[s["modes"], 100 * s["high_quality"], s["reverse_kl"]] for s in stats])
    sem = rows.std(axis=0, ddof=1) / np.sqrt(len(rows)) if len(rows) > 1 else np.zeros(3)
    return rows.mean(axis=0), sem


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--only", choices=sorted(PACGAN), help="one dataset")
    parser.add_argument("--setups", default="jgan", help=f"comma-separated, of {list(SETUPS)}")
    parser.add_argument("--steps", type=int, help="override every setup's training steps")
    parser.add_argument("--set", default="{}", help="JSON dict overriding setup entries")
    args = parser.parse_args()
    names = args.setups.split(",")
    unknown = [n for n in names if n not in SETUPS]
    if unknown:
        parser.error(f"unknown setups {unknown}; expected some of {list(SETUPS)}")
    print(f"{args.seeds} seeds; jax {jax.__version__} on {jax.default_backend()}\n")
    print("| dataset | setup | modes | % high quality | reverse KL | train s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for dataset in [args.only] if args.only else sorted(PACGAN):
        for row, (modes, hq, kl) in PACGAN[dataset].items():
            print(f"| {dataset} | {row} (PacGAN, Table 1) | {modes} | {hq} | {kl} | |")
        for name in names:
            t0 = time.perf_counter()
            setup = {**SETUPS[name], **SETUPS[name].get(dataset, {}),
                     **({"steps": args.steps} if args.steps else {}),
                     **json.loads(args.set)}
            mean, sem = summarise(train(setup, dataset, args.seeds))
            cells = " | ".join(f"{m:.{p}f} ± {e:.{p}f}" for m, e, p in zip(mean, sem, (1, 1, 2)))
            print(f"| {dataset} | jgan `{name}` | {cells} | {time.perf_counter() - t0:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
