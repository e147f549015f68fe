"""jgan: generative adversarial networks in JAX/Flax.

The public API: `create_state`, `make_train_step`, `sample`, `GANState`, `compiler_options` and
`donate_argnums` (what to jit the step with), `host.keep_freed_memory` (the malloc setting for
CPU runs), `onednn` (oneDNN's convolutions on CPU, which jgan's layers take where its extension
is built), and the registries `jgan.models.get` and `jgan.losses.get`.
"""
from jgan import host, losses, models, onednn, parallel
from jgan.compiler import compiler_options, donate_argnums
from jgan.sample import sample
from jgan.state import GANState, TrainState, create_state
from jgan.step import make_train_step

__version__ = "0.1.0"
__all__ = ["GANState", "TrainState", "compiler_options", "create_state", "donate_argnums", "host",
           "losses", "make_train_step", "models", "onednn", "parallel", "sample"]
