"""The benchmark cases: jgan models with their data shapes (shared by the speed benchmarks)."""
import jax
import optax

import jgan

# name: (jgan model, kwargs, z_dim, image shape, PyTorch twin in torch_reference.MODELS, batches)
CASES = {
    "seed_dcgan": ("seed_dcgan", {}, 100, (28, 28, 1), "seed_dcgan", (64, 256)),
    "dcgan32": ("dcgan", dict(resolution=32, channels=3), 100, (32, 32, 3), "dcgan32", (64,)),
    "mlp2d": ("mlp2d", {}, 2, (2,), "mlp2d", (512,)),
}


def select(only=None, names=tuple(CASES)) -> list[tuple[str, int]]:
    """(case, batch) pairs to run: `only` ("seed_dcgan:64") or every batch of `names`."""
    if only:
        name, _, batch = only.partition(":")
        if not batch.isdigit():
            raise ValueError(f"--only {only!r}: expected case:batch, e.g. seed_dcgan:64")
        _case(name)
        return [(name, int(batch))]
    return [(name, batch) for name in names for batch in CASES[name][5]]


def make_state(name: str, conv_impl: str = "auto", precision: str = "float32"):
    """Case `name`'s training state, with Adam(2e-4, 0.5) for both players; `conv_impl` is the
    convolution models' (jgan.nn: "auto", "lax", "xla_cpu", "onednn"), `precision` the models'
    ("float32", "bfloat16": jgan.nn.precision)."""
    model, kwargs, z_dim, shape, _, _ = _case(name)
    if model in ("seed_dcgan", "dcgan"):
        kwargs = {**kwargs, "conv_impl": conv_impl}
    kwargs = {**kwargs, "precision": precision}
    G, D = jgan.models.get(model, **kwargs)
    tx = optax.adam(2e-4, 0.5)
    return jgan.create_state(jax.random.key(0), G, D, tx, tx, z_dim=z_dim, image_shape=shape)


def make_batch(name: str, batch: int):
    """A batch of `batch` uniform noise 'images' of case `name`'s shape."""
    shape = _case(name)[3]
    return {"image": jax.random.uniform(jax.random.key(1), (batch, *shape), minval=-1.0)}


def _case(name):
    if name not in CASES:
        raise ValueError(f"unknown case {name!r}; expected one of {sorted(CASES)}")
    return CASES[name]
