"""Golden metrics of today's `gp_weight=` / `r1_weight=` / `r1_every=` flags, for
tests/test_regularizers.py: the regulariser values must give the same numbers.

Made with the code of commit 5daba72 (before regularisers became values), from a checkout of it:

    git archive 5daba72 | tar -x -C /tmp/jgan_5daba72
    cd /tmp/jgan_5daba72 && PYTHONPATH=$PWD python /work/wt23/tests/data/make_regularizer_golden.py \
        > /work/wt23/tests/data/regularizer_golden.json

Each case runs 3 steps of a tiny model from seed 0 on fixed uniform batches and records every
metric of every step plus the sum of D's and G's parameters after the last step.
"""
import json

import jax
import jax.numpy as jnp
import optax

import jgan

CASES = {  # name: (model, model kwargs, z_dim, image_shape, loss, n_critic, step flags)
    "mlp2d_gp": ("mlp2d", dict(g_hidden=16, d_hidden=16), 2, (2,), "wasserstein", 1,
                 dict(gp_weight=10.0)),
    "mlp2d_gp_ncritic2": ("mlp2d", dict(g_hidden=16, d_hidden=16), 2, (2,), "wasserstein", 2,
                          dict(gp_weight=10.0)),
    "mlp2d_r1": ("mlp2d", dict(g_hidden=16, d_hidden=16), 2, (2,), "non_saturating", 1,
                 dict(r1_weight=10.0)),
    "mlp2d_r1_lazy2": ("mlp2d", dict(g_hidden=16, d_hidden=16), 2, (2,), "non_saturating", 1,
                       dict(r1_weight=10.0, r1_every=2)),
    "dcgan_gp": ("dcgan", dict(resolution=32, channels=1, width=4, conv_impl="lax"), 8,
                 (32, 32, 1), "wasserstein", 1, dict(gp_weight=10.0)),
    "dcgan_r1_lazy2": ("dcgan", dict(resolution=32, channels=1, width=4, conv_impl="lax"), 8,
                       (32, 32, 1), "hinge", 1, dict(r1_weight=1.0, r1_every=2)),
}
NUM_STEPS, BATCH = 3, 8


def batch(i, n_critic, image_shape):
    lead = (n_critic,) if n_critic > 1 else ()
    return {"image": jax.random.uniform(jax.random.key(100 + i), (*lead, BATCH, *image_shape),
                                        minval=-1.0)}


def run(case, make_step):
    """Metrics per step and parameter sums of `case`, with `make_step(loss, n_critic, flags)`."""
    model, kwargs, z_dim, image_shape, loss, n_critic, flags = case
    G, D = jgan.models.get(model, **kwargs)
    tx = optax.adam(1e-3, 0.5)
    state = jgan.create_state(jax.random.key(0), G, D, tx, tx, z_dim=z_dim, image_shape=image_shape)
    step = jax.jit(make_step(loss, n_critic, flags))
    history = []
    for i in range(NUM_STEPS):
        state, metrics = step(state, batch(i, n_critic, image_shape))
        history.append({k: float(v) for k, v in sorted(metrics.items())})
    sums = {name: float(sum(jnp.sum(x) for x in jax.tree.leaves(params)))
            for name, params in (("d_params", state.d.params), ("g_params", state.g.params))}
    return {"metrics": history, **sums}


def flags_step(loss, n_critic, flags):
    return jgan.make_train_step(loss, n_critic=n_critic, **flags)


if __name__ == "__main__":
    print(json.dumps({name: run(case, flags_step) for name, case in CASES.items()}, indent=1))
