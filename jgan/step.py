"""The training step: one pure function `(state, batch) -> (state, metrics)` for the whole game.

Inside one compiled step: `n_critic` D updates (a `lax.scan`), then one G update, then the G-EMA.
Wrapping (jit, pmap, sharding, donation) is left to the caller.

Every training-mode pass updates the collections of the module it runs (`TrainState.state_vars`),
with one exception: D's pass inside G's update keeps D's `batch_stats` (they describe D's own
training data) but updates D's other collections. So spectral norm's power iteration advances on
D's real pass, its fake pass and the pass inside G's update, three times per step as in PyTorch
(where D(G(z)) in training mode advances u in G's step too). The penalties' passes (gradient
penalty, R1) read D's collections and update nothing.
"""
import dataclasses
import functools
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax
from jax import lax

from jgan import augment as augment_lib, losses as losses_lib, regularizers as regularizers_lib
from jgan.state import GANState, variables

# Stream ids for `fold_in`: each random draw of a step has its own. Regulariser i draws from
# _REGULARIZERS + i (the first from the stream the gradient penalty always used); the
# augmentations from streams far above any regulariser's.
_Z, _G_DROPOUT, _D_DROPOUT_REAL, _D_DROPOUT_FAKE, _REGULARIZERS = range(5)
_AUGMENT_REAL, _AUGMENT_FAKE, _AUGMENT_G = range(1 << 16, (1 << 16) + 3)


@dataclasses.dataclass(frozen=True)
class StepConfig:
    """The static choices of a training step; built by `make_train_step`."""
    loss: losses_lib.Loss
    n_critic: int = 1
    regularizers: tuple = ()  # Of jgan.regularizers.Regularizer.
    augment: tuple = ()  # A jgan.augment policy: ops applied to what D sees.
    ema_decay: float = 0.999
    ema_start: int = 0
    axis_name: Optional[str] = None
    ema_rampup: float = 0.0

    def __post_init__(self):
        if self.n_critic < 1:
            raise ValueError(f"n_critic={self.n_critic} must be >= 1")
        if not 0.0 <= self.ema_decay <= 1.0:
            raise ValueError(f"ema_decay={self.ema_decay} must lie in [0, 1]")
        if not self.ema_rampup >= 0.0:
            raise ValueError(f"ema_rampup={self.ema_rampup} must be >= 0 (0: no ramp-up)")
        object.__setattr__(self, "regularizers", regularizers_lib.check(self.regularizers))


def make_train_step(loss="non_saturating", *, n_critic: int = 1, regularizers=(), augment=None,
                    gp_weight: float = 0.0, r1_weight: float = 0.0, r1_every: int = 1,
                    ema_decay: float = 0.999, ema_start: int = 0, ema_rampup: float = 0.0,
                    axis_name: Optional[str] = None):
    """Returns the pure training step `(state, batch) -> (state, metrics)`.

    Args:
      loss: a name from `jgan.losses.names()` or a `jgan.losses.Loss(d, g)` pair of functions.
      n_critic: D updates per G update. With n_critic > 1, `batch["image"]` is
        [n_critic, B, *image_shape]: one real minibatch per D update.
      regularizers: `jgan.regularizers.Regularizer` values penalising D's loss (`gp`, `r1`,
        `lecam`, `dragan`, or a user's own); each adds its penalty as metric `name`. Stateful
        ones (LeCam) need the state made by `create_state(..., regularizers=...)`.
      augment: a `jgan.augment` policy, e.g. "color,translation,cutout" (DiffAugment) or
        functions op(key, x) -> x: applied to real and fake images in D's update and to fake
        ones in G's; the regularisers see the augmented images.
      gp_weight, r1_weight, r1_every: shorthands that add `jgan.regularizers.gp(gp_weight)` and
        `jgan.regularizers.r1(r1_weight, every=r1_every)` (γ = r1_weight, lazy every r1_every D
        updates with the weight scaled by r1_every) before `regularizers`.
      ema_decay: G-EMA decay; the EMA equals G's parameters for the first `ema_start` steps.
      ema_rampup: if > 0, the EMA's half-life at step t is at most `ema_rampup * t` steps
        (StyleGAN2-ADA's `ema_rampup`), so early steps' weights fade as training goes on.
      axis_name: the `jax.pmap` axis. Gradients, losses and batch statistics are averaged over it
        and z is drawn for the global batch and sliced per device, so N devices train like one
        (augmentations draw per device, as dropout does).
    """
    regs = regularizers_lib.from_flags(gp_weight, r1_weight, r1_every) + tuple(regularizers)
    cfg = StepConfig(losses_lib.get(loss), n_critic, regs, augment_lib.policy(augment), ema_decay,
                     ema_start, axis_name, ema_rampup)
    return functools.partial(train_step, cfg)


def train_step(cfg: StepConfig, state: GANState, batch: dict):
    """D phase, G phase, G-EMA; `state.step` counts G updates.

    G runs forward once for both phases when n_critic == 1: its output feeds the D update and its
    pullback the G update (as the classic DCGAN loop reuses G(z)); XLA does not merge the two
    passes by itself, and G's forward pass is the most expensive part of a DCGAN step.
    """
    forward = g_forward(cfg, state, batch)
    state, d_metrics = d_phase(cfg, state, batch,
                               fake=forward.fake if cfg.n_critic == 1 else None)
    state, g_metrics = g_phase(cfg, state, batch, forward)
    with jax.named_scope("g_ema"):  # Named scopes label the step's parts in profiles.
        decay = jnp.where(state.step < cfg.ema_start, 0.0, ema_decay_at(cfg, state.step))
        g_ema_params = jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p,
                                    state.g_ema_params, state.g.params)
    state = state.replace(step=state.step + 1, g_ema_params=g_ema_params,
                          g_ema_batch_stats=state.g.batch_stats,
                          g_ema_collections=state.g.collections)
    return state, {**d_metrics, **g_metrics}


def ema_decay_at(cfg: StepConfig, step):
    """The G-EMA decay at `step`: `cfg.ema_decay`, capped during the ramp-up so the half-life
    is at most `ema_rampup * step` steps (StyleGAN2-ADA's `ema_rampup`, counted in steps)."""
    if not cfg.ema_rampup:
        return jnp.float32(cfg.ema_decay)
    half_life = cfg.ema_rampup * jnp.asarray(step, jnp.float32)
    ramp = jnp.where(half_life > 0, 0.5 ** (1.0 / jnp.maximum(half_life, 1e-30)), 0.0)
    return jnp.minimum(jnp.float32(cfg.ema_decay), ramp)


class GForward(NamedTuple):
    """G's training-mode pass on the z of the step's last D update, and its pullback."""
    fake: jax.Array
    pullback: Callable  # d(loss)/d(fake) -> (d(loss)/d(G's params),)
    state_vars: Any  # G's collections after the pass.
    labels: Optional[jax.Array]  # Of that D update; D judges `fake` with them.
    key: jax.Array  # That D update's key.


def g_forward(cfg: StepConfig, state: GANState, batch: dict) -> GForward:
    images, labels = _check_batch(cfg, state, batch)
    last_labels = None if labels is None else labels[-1]
    z_shape = (images.shape[1], state.z_dim)
    key = _critic_keys(cfg, state)[-1]
    fake, pullback, state_vars = jax.vjp(
        lambda params: _generate(cfg, state.g, params, z_shape, last_labels, key),
        state.g.params, has_aux=True)
    return GForward(fake, pullback, state_vars, last_labels, key)


def d_phase(cfg: StepConfig, state: GANState, batch: dict, fake=None):
    """The `n_critic` D updates of a step; only `state.d` changes.

    `fake`: G's output for the (single) D update, if the caller already has it.
    """
    images, labels = _check_batch(cfg, state, batch)
    critic_keys = _critic_keys(cfg, state)
    d_update = functools.partial(_d_update, cfg, state.g, state.z_dim)
    carry = (state.d, _reg_states(cfg, state))
    if cfg.n_critic == 1:
        carry, metrics = d_update(carry, (images[0], _first(labels), critic_keys[0]), fake)
    else:
        carry, metrics = lax.scan(d_update, carry, (images, labels, critic_keys))
        metrics = jax.tree.map(jnp.mean, metrics)
    d, reg_states = carry
    return state.replace(d=d, reg_state={**state.reg_state, **reg_states}), metrics


def g_phase(cfg: StepConfig, state: GANState, batch: dict, forward: Optional[GForward] = None):
    """The G update of a step, against `state.d`; `state.g` changes, and of D only its
    collections other than `batch_stats` (spectral norm's vectors).

    It reuses the z (and labels) of the step's last D update, as the classic DCGAN loop does;
    `forward` is G's pass on them (`g_forward`), computed here if not given.
    """
    if forward is None:
        forward = g_forward(cfg, state, batch)
    g, d, metrics = _g_update(cfg, state.g, state.d, forward)
    return state.replace(g=g, d=d), metrics


def _reg_states(cfg: StepConfig, state: GANState) -> dict:
    """The states of the step's stateful regularisers, from `state.reg_state`."""
    states = {}
    for reg in cfg.regularizers:
        if reg.init is None:
            continue
        if reg.name not in state.reg_state:
            raise ValueError(f"regularizer {reg.name!r} keeps state but state.reg_state has "
                             f"{sorted(state.reg_state)}; create the state with "
                             f"jgan.create_state(..., regularizers=...) given the step's "
                             f"regularizers")
        states[reg.name] = state.reg_state[reg.name]
    return states


def _critic_keys(cfg: StepConfig, state: GANState):
    step_key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
    return jax.vmap(lambda i: jax.random.fold_in(step_key, i))(jnp.arange(cfg.n_critic))


def _first(labels):
    return None if labels is None else labels[0]


def _check_batch(cfg: StepConfig, state: GANState, batch: dict):
    """Returns images [n_critic, B, ...] and labels [n_critic, B] (or None); rejects bad shapes."""
    images, labels = batch["image"], batch.get("label")
    lead = () if cfg.n_critic == 1 else (cfg.n_critic,)
    want = len(lead) + 1 + len(state.image_shape)
    if images.ndim != want or images.shape[len(lead) + 1:] != state.image_shape \
            or images.shape[:len(lead)] != lead:
        expected = "[" + ", ".join([*map(str, lead), "B", *map(str, state.image_shape)]) + "]"
        raise ValueError(f"batch['image'] has shape {tuple(images.shape)}; expected {expected}")
    if labels is not None and labels.shape != images.shape[:len(lead) + 1]:
        raise ValueError(f"batch['label'] has shape {tuple(labels.shape)}; "
                         f"expected {tuple(images.shape[:len(lead) + 1])}")
    if cfg.n_critic == 1:
        images, labels = images[None], None if labels is None else labels[None]
    return images, labels


def _device_key(cfg: StepConfig, key):
    """Per-device key for draws that are local by nature (dropout masks)."""
    return key if cfg.axis_name is None else jax.random.fold_in(key, lax.axis_index(cfg.axis_name))


def _global_draw(cfg: StepConfig, sampler, key, local_shape):
    """`sampler(key, shape)` drawn for the global batch and sliced to this device's rows.

    Drawing globally makes N devices see exactly the samples one device would.
    """
    if cfg.axis_name is None:
        return sampler(key, local_shape)
    n = local_shape[0]
    full = sampler(key, (n * lax.axis_size(cfg.axis_name), *local_shape[1:]))
    return lax.dynamic_slice_in_dim(full, lax.axis_index(cfg.axis_name) * n, n)


def _pmean(cfg: StepConfig, tree):
    return tree if cfg.axis_name is None else lax.pmean(tree, cfg.axis_name)


def _pmean_vars(cfg: StepConfig, state_vars: dict) -> dict:
    """Averages `batch_stats` over devices. The other collections are left as they are: spectral
    norm's vectors depend on the replicated weights and vectors alone, so every device already
    holds the same ones, and an average could round them away from it."""
    return {**state_vars, "batch_stats": _pmean(cfg, state_vars["batch_stats"])}


def _train_apply(cfg: StepConfig, player, params, state_vars: dict, x, labels, key, stream):
    """`player`'s module in training mode; returns (output, its updated `state_vars`)."""
    rngs = {"dropout": _device_key(cfg, jax.random.fold_in(key, stream))}
    others = {k: v for k, v in state_vars.items() if k != "batch_stats"}
    out, mutated = player.apply_fn(variables(params, state_vars["batch_stats"], others), x, labels,
                                   train=True, rngs=rngs, mutable=list(state_vars))
    return out, {**state_vars, **mutated}


def _generate(cfg: StepConfig, g, g_params, z_shape, labels, key):
    """Runs G in training mode; returns (fake images, G's new state_vars)."""
    z_BxZ = _global_draw(cfg, jax.random.normal, jax.random.fold_in(key, _Z), z_shape)
    return _train_apply(cfg, g, g_params, g.state_vars, z_BxZ, labels, key, _G_DROPOUT)


def _d_update(cfg: StepConfig, g, z_dim, carry, xs, fake=None):
    """One D update on a real minibatch; G's parameters are only read. `carry` is (D, the
    regularisers' states)."""
    d, reg_states = carry
    real, labels, key = xs
    if fake is None:
        fake, _ = _generate(cfg, g, g.params, (real.shape[0], z_dim), labels, key)
    fake = lax.stop_gradient(fake)
    real = _augment(cfg, key, _AUGMENT_REAL, real)
    fake = _augment(cfg, key, _AUGMENT_FAKE, fake)
    loss_fn = functools.partial(_d_loss, cfg, d, reg_states, real, fake, labels, key)
    (_, (state_vars, reg_states, metrics)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(d.params)
    grads, metrics = _pmean(cfg, (grads, metrics))
    state_vars = _pmean_vars(cfg, state_vars)
    with jax.named_scope("grad_norm"):
        metrics["d_grad_norm"] = optax.tree.norm(grads)
    with jax.named_scope("d_optimizer"):
        d = d.apply_gradients(grads=grads).replace_state_vars(state_vars)
        return (d, reg_states), metrics


def _augment(cfg: StepConfig, key, stream, x):
    if not cfg.augment:
        return x
    with jax.named_scope("augment"):
        return augment_lib.apply(cfg.augment, _device_key(cfg, jax.random.fold_in(key, stream)), x)


def _d_loss(cfg: StepConfig, d, reg_states, real, fake, labels, key, params):
    """D's loss with its penalties; aux = (D's new state_vars, the regularisers' new states,
    metrics)."""
    def apply(x, state_vars, stream):
        return _train_apply(cfg, d, params, state_vars, x, labels, key, stream)

    real_logits, state_vars = apply(real, d.state_vars, _D_DROPOUT_REAL)
    fake_logits, state_vars = apply(fake, state_vars, _D_DROPOUT_FAKE)
    d_loss = cfg.loss.d(real_logits, fake_logits)
    metrics = {"d_loss": d_loss, "d_real_logit": real_logits.mean(),
               "d_fake_logit": fake_logits.mean()}
    total, new_states = d_loss, {}
    for i, reg in enumerate(cfg.regularizers):
        reg_key = jax.random.fold_in(key, _REGULARIZERS + i)
        inputs = regularizers_lib.Inputs(
            real, fake, real_logits, fake_logits,
            d_on_real=lambda x: apply(x, d.state_vars, _D_DROPOUT_REAL)[0],
            d_on_fake=lambda x: apply(x, state_vars, _D_DROPOUT_FAKE)[0],
            key=reg_key, draw=functools.partial(_draw, cfg, reg_key),
            pmean=functools.partial(_pmean, cfg))
        with jax.named_scope(f"regularizer_{reg.name}"):
            value, new_state = _penalty(reg, inputs, reg_states.get(reg.name), d.step)
        metrics[reg.name] = value
        if reg.init is not None:
            new_states[reg.name] = new_state
        total += reg.weight * reg.every * value
    return total, (state_vars, new_states, metrics)


def _penalty(reg, inputs, state, d_step):
    """(penalty, new state) of `reg`; on the D updates a lazy one skips, (0, state)."""
    def pay():
        if reg.init is None:
            return jnp.asarray(reg.penalty(inputs), jnp.float32), state
        value, new_state = reg.penalty(inputs, state)
        return jnp.asarray(value, jnp.float32), new_state
    if reg.every == 1:
        return pay()
    return lax.cond(d_step % reg.every == 0, pay, lambda: (jnp.zeros((), jnp.float32), state))


def _draw(cfg: StepConfig, key, sampler, shape, stream: int = 0):
    """A regulariser's draw: stream 0 from its own key, others from keys folded from it."""
    return _global_draw(cfg, sampler, key if stream == 0 else jax.random.fold_in(key, stream),
                        shape)


def _g_update(cfg: StepConfig, g, d, forward: GForward):
    """One G update against the freshly updated D; returns (G, D, metrics), D's parameters only
    read."""
    def loss_fn(fake):
        fake = _augment(cfg, forward.key, _AUGMENT_G, fake)  # G learns through the augmentation.
        fake_logits, d_vars = _train_apply(cfg, d, d.params, d.state_vars, fake, forward.labels,
                                           forward.key, _D_DROPOUT_FAKE)
        return cfg.loss.g(fake_logits), d_vars

    (g_loss, d_vars), fake_grads = jax.value_and_grad(loss_fn, has_aux=True)(forward.fake)
    grads, = forward.pullback(fake_grads)
    grads, g_loss = _pmean(cfg, (grads, g_loss))
    with jax.named_scope("grad_norm"):
        metrics = {"g_loss": g_loss, "g_grad_norm": optax.tree.norm(grads)}
    # D's batch statistics are not updated by G's pass (they describe D's own training data);
    # its other collections are, as in PyTorch (the module docstring).
    d = d.replace_state_vars({**d_vars, "batch_stats": d.batch_stats})
    with jax.named_scope("g_optimizer"):
        g = g.apply_gradients(grads=grads).replace_state_vars(_pmean_vars(cfg, forward.state_vars))
        return g, d, metrics
