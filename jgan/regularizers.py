"""Regularisers of D's loss as values: WGAN-GP, R1, LeCam, DRAGAN, and any a user writes.

    step = jgan.make_train_step("hinge", regularizers=[jgan.regularizers.r1(10.0, every=16),
                                                       jgan.regularizers.lecam(0.3)])
    state = jgan.create_state(..., regularizers=[...the same...])  # LeCam keeps state in it.

A `Regularizer` is a name (its metric), a `penalty`, a `weight` and an `every`: on every `every`-th
D update (counted by D's optimizer) D's loss gains `weight · every · penalty` (lazy regularisation
keeps the strength and pays less often) and the other updates skip the penalty. A stateless
penalty is `penalty(inputs) -> scalar`; one with `init` (a function returning its state pytree,
kept in `GANState.reg_state[name]` and so in checkpoints) is `penalty(inputs, state) -> (scalar,
new state)`. `inputs` is an `Inputs`: the D update's batches, D's logits on them, D as a function
and a key.

For configs, `REGULARIZERS` maps names to the factories below: `from_config(loss_section)` builds
`loss.regularizers = [{"name": "r1", "weight": 10, "every": 16}]` plus the `gp_weight`,
`r1_weight`, `r1_every` shorthands.
"""
import functools
import math
import numbers
from typing import Any, Callable, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp

from jgan.registry import Registry


class Inputs(NamedTuple):
    """What a penalty reads: one D update's batches (after the step's augmentation) and D."""
    real: jax.Array
    fake: jax.Array
    real_logits: jax.Array  # D's logits on `real` [B], differentiable w.r.t. D's parameters.
    fake_logits: jax.Array
    d_on_real: Callable  # x -> logits [B]: D as in its pass on `real` (its collections and
    d_on_fake: Callable  # dropout); `d_on_fake` as after its passes. Neither updates anything.
    key: jax.Array  # This regulariser's own key for this D update.
    draw: Callable  # draw(sampler, shape, stream=0): `sampler(key, shape)` drawn for the global
    pmean: Callable  # batch, this device's rows; pmean(x): x averaged over devices (pmap).


class Regularizer(NamedTuple):
    """A penalty on D's loss, as a value (see the module docstring)."""
    name: str
    penalty: Callable
    weight: float = 1.0
    every: int = 1
    init: Optional[Callable[[], Any]] = None


REGULARIZERS = Registry("regularizer")  # name -> factory(**config kwargs) -> Regularizer


def input_grad_norm(logits_fn, x):
    """‖∂D(x_i)/∂x_i‖₂ per example (examples are independent, so the gradient of the summed
    logits gives each one's own)."""
    grads = jax.grad(lambda x: logits_fn(x).sum())(x)
    return jnp.sqrt(jnp.sum(grads.reshape(x.shape[0], -1) ** 2, axis=-1))


def gradient_penalty(logits_fn, real, fake, eps):
    """WGAN-GP (Gulrajani et al. 2017): E(‖∇D(x̂)‖ − 1)² at x̂ = eps·real + (1 − eps)·fake."""
    x_hat = eps * real + (1.0 - eps) * fake
    return jnp.mean((input_grad_norm(logits_fn, x_hat) - 1.0) ** 2)


def r1_penalty(logits_fn, real):
    """R1 (Mescheder et al. 2018) without its γ/2: E‖∇D(x_real)‖²."""
    return jnp.mean(input_grad_norm(logits_fn, real) ** 2)


def _per_example(x):
    return (x.shape[0],) + (1,) * (x.ndim - 1)


def _gp(inputs: Inputs):
    eps = inputs.draw(jax.random.uniform, _per_example(inputs.real))
    return gradient_penalty(inputs.d_on_fake, inputs.real, inputs.fake, eps)


def _r1(inputs: Inputs):
    return r1_penalty(inputs.d_on_real, inputs.real)


def _dragan(inputs: Inputs, scale: float):
    """DRAGAN (Kodali et al. 2017): (‖∇D‖ − 1)² at x + α·δ, δ ~ U[0, scale·std(x)) per element,
    α ~ U[0, 1) per example, as in the authors' code."""
    real = inputs.real
    mean, mean_sq = inputs.pmean(jnp.mean(real)), inputs.pmean(jnp.mean(real ** 2))
    std = jnp.sqrt(jnp.maximum(mean_sq - mean ** 2, 0.0))
    alpha = inputs.draw(jax.random.uniform, _per_example(real))
    delta = scale * std * inputs.draw(jax.random.uniform, real.shape, 1)
    x_hat = real + alpha * delta
    return jnp.mean((input_grad_norm(inputs.d_on_real, x_hat) - 1.0) ** 2)


def _lecam_init():
    return {"ema_real": jnp.zeros(()), "ema_fake": jnp.zeros(()),
            "count": jnp.zeros((), jnp.int32)}


def _lecam(inputs: Inputs, state, decay: float):
    """LeCam (Tseng et al. 2021): E relu(D(real) − ema_fake)² + E relu(ema_real − D(fake))²,
    with zero-debiased EMAs of D's mean outputs updated first (their TF code)."""
    count = state["count"] + 1
    new = {"count": count}
    debiased = {}
    for kind, logits in (("real", inputs.real_logits), ("fake", inputs.fake_logits)):
        mean = jax.lax.stop_gradient(inputs.pmean(jnp.mean(logits)))
        new[f"ema_{kind}"] = decay * state[f"ema_{kind}"] + (1.0 - decay) * mean
        debiased[kind] = new[f"ema_{kind}"] / (1.0 - decay ** count.astype(jnp.float32))
    value = (jnp.mean(jax.nn.relu(inputs.real_logits - debiased["fake"]) ** 2)
             + jnp.mean(jax.nn.relu(debiased["real"] - inputs.fake_logits) ** 2))
    return value, new


@REGULARIZERS.register("gp")
def gp(weight: float = 10.0, every: int = 1) -> Regularizer:
    """WGAN-GP's penalty on real/fake interpolates; metric `gp`."""
    return Regularizer("gp", _gp, weight, every)


@REGULARIZERS.register("r1")
def r1(weight: float = 10.0, every: int = 1) -> Regularizer:
    """R1 with γ = `weight` (D's loss += γ/2 · E‖∇D(real)‖²), lazily every `every` D updates;
    metric `r1` (E‖∇D(real)‖²)."""
    return Regularizer("r1", _r1, 0.5 * weight if _is_number(weight) else weight, every)


@REGULARIZERS.register("lecam")
def lecam(weight: float = 0.3, every: int = 1, decay: float = 0.99) -> Regularizer:
    """LeCam with λ = `weight` (0.3: the authors' BigGAN CIFAR runs) and EMA `decay` (0.99, as in
    their code); its EMAs live in `GANState.reg_state["lecam"]`."""
    if not _is_number(decay) or not 0.0 <= decay < 1.0:
        raise ValueError(f"regularizer 'lecam': decay={decay!r}; expected a number in [0, 1)")
    return Regularizer("lecam", functools.partial(_lecam, decay=float(decay)), weight, every,
                       _lecam_init)


@REGULARIZERS.register("dragan")
def dragan(weight: float = 10.0, every: int = 1, scale: float = 0.5) -> Regularizer:
    """DRAGAN's penalty on perturbations of real data (λ = 10, scale 0.5 in the paper)."""
    return Regularizer("dragan", functools.partial(_dragan, scale=float(scale)), weight, every)


def from_flags(gp_weight: float = 0.0, r1_weight: float = 0.0,
               r1_every: int = 1) -> tuple[Regularizer, ...]:
    """The regularisers `make_train_step`'s `gp_weight`, `r1_weight`, `r1_every` stand for."""
    if not isinstance(r1_every, int) or r1_every < 1:
        raise ValueError(f"r1_every={r1_every!r} must be an integer >= 1")
    return ((gp(gp_weight),) if gp_weight else ()) + \
        ((r1(r1_weight, r1_every),) if r1_weight else ())


def from_config(loss) -> tuple[Regularizer, ...]:
    """The regularisers of a config's `loss` section: its shorthands, then `loss.regularizers`
    (a list of {"name": ..., **factory kwargs})."""
    regs = from_flags(loss.gp_weight, loss.r1_weight, loss.r1_every)
    for entry in loss.get("regularizers", ()) or ():
        if not hasattr(entry, "keys") or "name" not in entry:
            raise ValueError(f"config.loss.regularizers entry {entry!r}; expected a dict with a "
                             f"'name' from {REGULARIZERS.names()}")
        kwargs = dict(entry)
        name = kwargs.pop("name")
        factory = REGULARIZERS.get(name)
        try:
            regs += (factory(**kwargs),)
        except TypeError as e:
            raise ValueError(f"regularizer {name!r}: {e}") from None
    return check(regs)


def check(regs: Sequence[Regularizer]) -> tuple[Regularizer, ...]:
    """`regs` as a tuple; raises a one-line ValueError for a bad weight, `every`, or name."""
    regs = tuple(regs)
    seen = set()
    for reg in regs:
        if not isinstance(reg, Regularizer):
            raise ValueError(f"regularizer {reg!r}; expected a jgan.regularizers.Regularizer")
        if reg.name in seen:
            raise ValueError(f"regularizer {reg.name!r} is given twice (a shorthand such as "
                             f"r1_weight and an entry of the same name?); expected unique names")
        seen.add(reg.name)
        if not _is_number(reg.weight) or not math.isfinite(reg.weight) or reg.weight < 0:
            raise ValueError(f"regularizer {reg.name!r}: weight={reg.weight!r}; expected a "
                             f"finite number >= 0")
        if isinstance(reg.every, bool) or not isinstance(reg.every, int) or reg.every < 1:
            raise ValueError(f"regularizer {reg.name!r}: every={reg.every!r}; expected an "
                             f"integer >= 1")
        if not callable(reg.penalty):
            raise ValueError(f"regularizer {reg.name!r}: penalty {reg.penalty!r} is not callable")
    return regs


def init_state(regs: Sequence[Regularizer]) -> dict:
    """The `GANState.reg_state` of `regs`: {name: init()} of the stateful ones."""
    return {reg.name: reg.init() for reg in check(regs) if reg.init is not None}


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)
