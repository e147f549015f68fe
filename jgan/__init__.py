"""jgan: generative adversarial networks in JAX/Flax.

The game: `create_state`, `GANState`, `make_train_step`, `sample`, `jit_step` (jit for this
backend), the registries `jgan.models`, `jgan.losses`, `jgan.metrics`, the recipe parts
`jgan.regularizers`, `jgan.augment`, `jgan.optimizers`, and the layers in `jgan.nn`.
The run harness (loop, engines, checkpoints, the `jgan` command) is `jgan.run`; `jgan.checkpoint`
is kept as the name of `jgan.run.checkpoint`. CPU-specific code (`jgan.cpu`) loads only on CPU.
"""
import importlib

from jgan import augment, losses, metrics, models, nn, optimizers, parallel, regularizers
from jgan.backend import compiler_options, donate_argnums, jit_step
from jgan.sampling import sample
from jgan.state import GANState, TrainState, create_state
from jgan.step import make_train_step

__version__ = "0.1.0"
__all__ = ["GANState", "TrainState", "augment", "compiler_options", "create_state",
           "donate_argnums", "jit_step", "losses", "make_train_step", "metrics", "models", "nn",
           "optimizers", "parallel", "regularizers", "sample"]

_ALIASES = {"checkpoint": "jgan.run.checkpoint"}  # Names of the first release, kept.


def __getattr__(name: str):
    if name in _ALIASES:
        return importlib.import_module(_ALIASES[name])
    raise AttributeError(f"module 'jgan' has no attribute {name!r}")
