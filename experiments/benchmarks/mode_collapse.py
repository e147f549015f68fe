"""Mode collapse on 2-D mixtures: the ring2d and grid2d configs beside PacGAN's Table 1.

    python experiments/benchmarks/mode_collapse.py [--seeds 10] [--only ring] [--setups jgan,gan]
        [--config.KEY=VALUE ...]

Setup `jgan` is the shipped config of the dataset (`ring2d`, `grid2d`: what `jgan train --config
ring2d` reads, overrides applied); `gan` is the same with D unpacked. Seed s is the run of
`--config.seed=s`: the same initial state and train step (`jgan.run.loop`), the data the same
mixture drawn inside the compiled loop. Seeds 0..N-1 train at once (the step `vmap`ped over
seeds, the steps in a `lax.scan`), then each is scored as `jgan evaluate` scores the run: the
G-EMA's `config.eval.num_samples` samples from a fixed z (key 0) by the metric `modes` (PacGAN's
protocol: high quality = within 3 std of the nearest mode). The table gives mean ± standard error
over seeds of modes covered, % high-quality samples and reverse KL, under PacGAN's published rows,
then each seed's % high quality (the spread the standard error summarises).
"""
import argparse
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import jgan
from jgan.data import toy2d
from jgan.metrics import evaluate
from jgan.run import configs, loop

# PacGAN (Lin et al. 2018), Table 1: modes, % high quality, reverse KL.
PACGAN = {
    "ring": {"GAN": (6.3, 98.2, 0.45), "PacGAN2": (7.9, 95.6, 0.07)},
    "grid": {"GAN": (17.3, 94.8, 0.70), "PacGAN4": (24.8, 93.6, 0.04)},
}
CONFIGS = {"ring": "ring2d", "grid": "grid2d"}
SETUPS = {"jgan": (), "gan": ("--config.model.kwargs.pack=1",)}
_CHUNK = 1000  # Steps per compiled call.


def setup_config(name: str, dataset: str, overrides=()):
    """The config setup `name` trains on `dataset`."""
    return configs.load(CONFIGS[dataset], [*SETUPS[name], *overrides])


def build(config, num_seeds: int):
    """(states of seeds 0..num_seeds-1 as `jgan train` creates them, the step vmapped over them)."""
    keys = jax.vmap(jax.random.key)(jnp.arange(num_seeds))
    states = jax.vmap(lambda key: loop.create_state_from_config(config, key=key))(keys)
    return states, jax.vmap(loop.make_step_fn(config))


def batch_shape(config) -> tuple:
    """The leading shape of a step's real batch: [n_critic, B] when n_critic > 1, as in the loop."""
    n_critic = config.loss.n_critic
    return (n_critic, config.batch_size) if n_critic > 1 else (config.batch_size,)


def draw(dataset: str, shape: tuple, seed, i):
    """One seed's real batch i of `shape` + (2,): a uniform mode plus Gaussian noise."""
    centres, std = toy2d.modes(dataset)
    centres = jnp.asarray(centres, jnp.float32)
    key = jax.random.fold_in(jax.random.key(1_000 + seed), i)
    k_mode, k_noise = jax.random.split(key)
    modes = jax.random.randint(k_mode, shape, 0, len(centres))
    return centres[modes] + std * jax.random.normal(k_noise, (*shape, 2))


def train(config, num_seeds: int):
    """The states of seeds 0..num_seeds-1 after `config.num_steps` steps."""
    states, step = build(config, num_seeds)
    draw_seeds = jax.vmap(functools.partial(draw, config.dataset.name, batch_shape(config)), (0, None))

    @functools.partial(jax.jit, static_argnums=2)
    def run(states, start, length):
        def body(states, i):
            return step(states, {"image": draw_seeds(jnp.arange(num_seeds), i)})[0], None
        return lax.scan(body, states, start + jnp.arange(length))[0]

    for start in range(0, config.num_steps, _CHUNK):
        states = run(states, start, min(_CHUNK, config.num_steps - start))
    return states


def score(config, states, num_seeds: int) -> list[dict]:
    """Each seed's `modes` stats, as `jgan evaluate` gives them (G-EMA, seed 0)."""
    stats = []
    for s in range(num_seeds):
        state = jax.tree.map(lambda x: x[s], states)
        g_vars = jgan.state.variables(state.g_ema_params, state.g_ema_batch_stats,
                                      state.g_ema_collections)
        stats.append(evaluate.evaluate(config, state.g.apply_fn, g_vars, ("modes",),
                                       config.eval.num_samples, seed=0))
    return stats


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
    args, overrides = parser.parse_known_args()
    names = args.setups.split(",")
    unknown = [n for n in names if n not in SETUPS]
    if unknown:
        parser.error(f"unknown setups {unknown}; expected some of {list(SETUPS)}")
    print(f"{args.seeds} seeds; jax {jax.__version__} on {jax.default_backend()}"
          f"{'; ' + ' '.join(overrides) if overrides else ''}\n")
    print("| dataset | setup | modes | % high quality | reverse KL | train s |")
    print("| --- | --- | --- | --- | --- | --- |")
    by_seed = []
    for dataset in [args.only] if args.only else sorted(PACGAN):
        for row, (modes, hq, kl) in PACGAN[dataset].items():
            print(f"| {dataset} | {row} (PacGAN, Table 1) | {modes} | {hq} | {kl} | |")
        for name in names:
            t0 = time.perf_counter()
            config = setup_config(name, dataset, overrides)
            states = jax.block_until_ready(train(config, args.seeds))
            seconds = time.perf_counter() - t0
            stats = score(config, states, args.seeds)
            mean, sem = summarise(stats)
            by_seed.append(f"{CONFIGS[dataset]} {name}: "
                           + ", ".join(f"{100 * s['high_quality']:.1f}" for s in stats))
            cells = " | ".join(f"{m:.{p}f} ± {e:.{p}f}" for m, e, p in zip(mean, sem, (1, 1, 2)))
            print(f"| {dataset} | `{CONFIGS[dataset]}`, setup `{name}` | {cells} | {seconds:.0f} |",
                  flush=True)
    print("\n% high quality by seed (0, 1, ...):", *by_seed, sep="\n")


if __name__ == "__main__":
    main()
