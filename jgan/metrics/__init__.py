"""Evaluation metrics: a registry of functions on features (or 2-D samples).

Each registered metric takes `(fake, real, **options)` and returns a dict of floats. The feature
networks that turn images into features come separately; these functions follow the reference
implementations' definitions so their numbers can be compared with published ones.
"""
from typing import Callable

_METRICS: dict[str, Callable[..., dict]] = {}


def register(name: str):
    """Decorator: registers `fn(fake, real, **options) -> dict` under `name`."""
    def wrap(fn):
        _METRICS[name] = fn
        return fn
    return wrap


def get(name: str) -> Callable[..., dict]:
    if name not in _METRICS:
        raise ValueError(f"unknown metric {name!r}; expected one of {names()}")
    return _METRICS[name]


def names() -> list[str]:
    return sorted(_METRICS)


# Imported for their registrations.
from jgan.metrics import distribution, modes  # noqa: E402,F401
