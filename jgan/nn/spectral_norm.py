"""`SpectralNorm`: Miyato et al. (2018)'s spectral normalisation as PyTorch computes it.

Wraps any layer with a `kernel` (`Dense`, `Conv`, `ConvTranspose`, jgan's or Flax's) or an
`embedding` (`nn.Embed`) and divides that weight by σ, an estimate of its largest singular value,
exactly as `torch.nn.utils.spectral_norm` does (which Mimicry's SNConv2d, SNLinear and SNEmbedding
use by default):

- the weight is seen as PyTorch's matrix W [h, w]: a kernel [*spatial, in, out] (Flax's layout)
  as PyTorch's [out, in, *spatial] flattened to [out, in·spatial]; an embedding [n, d] as it is;
- its state is u [h] and v [w], unit vectors drawn from N(0, I) at initialisation, kept in the
  "spectral_norm" collection (not parameters: no gradient, no optimizer);
- in training mode (`update_stats=True`) one power iteration, v ← normalize(Wᵀu) then
  u ← normalize(Wv), with normalize(x) = x / max(‖x‖, 1e-12) (PyTorch's F.normalize), and the
  new u, v are stored; σ = uᵀWv with gradients through W only (u, v are constants);
- in eval mode (`update_stats=False`) σ = uᵀWv from the stored u, v: no iteration, nothing changes.

`eval_power_iteration=True` gives Mimicry's own SpectralNorm class instead (`modules/
spectral_norm.py`; its cGAN-PD's final linear layer and class embedding use it, through the names
`torch_mimicry.modules` re-exports): the same training-mode update, but only u is kept, and eval
mode runs one power iteration from the stored u for σ without storing it.

Why not `flax.linen.SpectralNorm`: its ε sits inside the square root (x·rsqrt(‖x‖² + ε)), its u
lies on every weight's last axis (an embedding's feature axis, where PyTorch's lies on the class
axis, so PyTorch's u cannot be carried over), it keeps no v, and in eval mode it runs one more
power iteration from u, where PyTorch reuses u and v. Any of these moves its σ off PyTorch's.

Wrapping does not rename the layer's parameters (they stay at the layer's own path); the state of
a layer named `c1` lives at `spectral_norm/.../c1_sn/{u, v}` (u alone with
`eval_power_iteration`).
"""
import functools
from typing import Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

COLLECTION = "spectral_norm"
EPS = 1e-12  # PyTorch's default.
_WEIGHTS = ("kernel", "embedding")


class SpectralNorm(nn.Module):
    """`layer` with its `kernel` (or `embedding`) divided by its spectral norm σ.

    Call it as the layer, plus `update_stats`: True in training mode (one power iteration, the new
    u, v stored), False in eval mode (the stored u, v). Its default name is the layer's + "_sn".
    """
    layer: nn.Module
    eps: float = EPS
    eval_power_iteration: bool = False

    def __post_init__(self):
        # Name the state after the layer, so `c1`'s u and v are found at `c1_sn`.
        if self.name is None and self.parent is not None and self.layer.name is not None:
            object.__setattr__(self, "name", f"{self.layer.name}_sn")
        super().__post_init__()

    @nn.compact
    def __call__(self, *args, update_stats: bool, **kwargs):
        def normalize_weight(variables):
            params = dict(variables["params"])
            name = _weight_name(self.layer, params)
            params[name] = self._normalized(params[name], name, update_stats)
            return {**variables, "params": params}

        return nn.map_variables(lambda layer: layer(*args, **kwargs), "params",
                                trans_in_fn=normalize_weight, init=self.is_initializing(),
                                mutable=True)(self.layer)

    def _normalized(self, weight, name: str, update_stats: bool):
        W_hxw = as_matrix(weight, name)
        h, w = W_hxw.shape
        key = self.make_rng("params") if self.is_initializing() else None
        u_var = self.variable(COLLECTION, "u", _unit_normal, key, h)
        if self.eval_power_iteration:  # v is recomputed from u in every mode: not kept.
            u, v = power_iteration(jax.lax.stop_gradient(W_hxw), u_var.value, self.eps)
            if update_stats and not self.is_initializing():
                u_var.value = u
            return (weight / sigma(W_hxw, u, v)).astype(weight.dtype)
        v_var = self.variable(COLLECTION, "v", _unit_normal,
                              None if key is None else jax.random.fold_in(key, 1), w)
        u, v = u_var.value, v_var.value
        if update_stats and not self.is_initializing():
            u, v = power_iteration(jax.lax.stop_gradient(W_hxw), u, self.eps)
            u_var.value, v_var.value = u, v
        return (weight / sigma(W_hxw, u, v)).astype(weight.dtype)


def maybe_spectral_norm(layer: nn.Module, enabled: bool, train: bool, **sn_fields) -> Callable:
    """`layer`, or `SpectralNorm(layer, **sn_fields)` (updating its vectors when `train`) if
    `enabled`.

    For models with a `spectral_norm=` switch; call it inside a compact method.
    """
    if not enabled:
        return layer
    return functools.partial(SpectralNorm(layer, **sn_fields), update_stats=train)


def as_matrix(weight, name: str = "kernel"):
    """PyTorch's weight matrix W [h, w] (`reshape_weight_to_matrix`) of a Flax `kernel` or
    `embedding`; in PyTorch's column order, so u and v carry over from PyTorch unchanged."""
    weight = jnp.asarray(weight, jnp.promote_types(weight.dtype, jnp.float32))
    if name == "kernel":  # [*spatial, in, out] -> [out, in, *spatial].
        weight = jnp.transpose(weight, (weight.ndim - 1, weight.ndim - 2, *range(weight.ndim - 2)))
    return weight.reshape(weight.shape[0], -1)


def normalize(x, eps: float = EPS):
    """x / max(‖x‖, eps), as `torch.nn.functional.normalize`."""
    return x / jnp.maximum(jnp.linalg.norm(x), eps)


def power_iteration(W_hxw, u_h, eps: float = EPS):
    """One iteration in PyTorch's order: v from the old u, then u from the new v; returns (u, v)."""
    v_w = normalize(W_hxw.T @ u_h, eps)
    return normalize(W_hxw @ v_w, eps), v_w


def sigma(W_hxw, u_h, v_w):
    """σ = uᵀWv: gradients flow through W, never through u and v."""
    return jax.lax.stop_gradient(u_h) @ (W_hxw @ jax.lax.stop_gradient(v_w))


def _unit_normal(key: Optional[jax.Array], n: int):
    """PyTorch's initial u or v: normalize(N(0, I))."""
    if key is None:  # Only while initialising does the variable get a value from here.
        raise ValueError("spectral norm state is missing; initialise the module with init()")
    return normalize(jax.random.normal(key, (n,), jnp.float32))


def _weight_name(layer: nn.Module, params: dict) -> str:
    names = [name for name in _WEIGHTS if name in params]
    if not names:
        raise ValueError(f"SpectralNorm wraps a layer with a 'kernel' or 'embedding' parameter; "
                         f"{type(layer).__name__} {layer.name!r} has {sorted(params) or 'none'}")
    return names[0]
