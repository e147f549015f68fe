"""Optimizers by name, for configs: `from_config({"name": "adam", "learning_rate": 2e-4, ...})`."""
import optax

from jgan.registry import Registry

OPTIMIZERS = Registry("optimizer")  # name -> optax constructor
for _name in ("adam", "adamw", "sgd", "rmsprop", "lion"):
    OPTIMIZERS.register(_name, getattr(optax, _name))


def from_config(cfg) -> optax.GradientTransformation:
    """An optax optimizer from a config section: `name` plus the optimizer's keyword arguments."""
    kwargs = dict(cfg)
    name = kwargs.pop("name")
    constructor = OPTIMIZERS.get(name)
    try:
        return constructor(**kwargs)
    except TypeError as e:
        raise ValueError(f"optimizer {name!r}: {e}") from None
