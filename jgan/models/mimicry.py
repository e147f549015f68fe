"""Mimicry's SNGAN and cGAN-PD weights -> the variables of jgan's `sngan` / `cgan_pd` modules.

    variables = mimicry.convert(state_dict, template=G.init(...))   # then G.apply(variables, ...)

`state_dict` maps Mimicry's names (`netG.state_dict()`, as NumPy arrays: jgan needs no PyTorch) to
arrays. PyTorch's layouts become Flax's: convolutions OIHW -> HWIO, linear weights [out, in] ->
kernels [in, out] (G's first linear also from channel-major to channel-last rows), embeddings
unchanged; BatchNorm weight/bias/running statistics -> scale/bias and `batch_stats` mean/var;
spectral norm's weight_orig, weight_u, weight_v (PyTorch's) or weight, sn_u (Mimicry's own) -> the
kernel and `spectral_norm` u, v. D's final
linear layer (l5 / l6) and class embedding (l_y) become `head/linear` and `head/embed`.
"""
import math
import re

import numpy as np
from flax import traverse_util

_HEAD = {"l_y": "head/embed"}  # And D's last linear layer, l<n>: see `_path`.
_BN = {"weight": ("params", "scale"), "bias": ("params", "bias"),
       "running_mean": ("batch_stats", "mean"), "running_var": ("batch_stats", "var")}


def convert(state_dict: dict, template: dict) -> dict:
    """Mimicry's state dict -> jgan variables with exactly `template`'s names and shapes.

    `template`: the jgan module's own variables (from `init`), which the result must match; a name
    or shape that differs raises, naming it.
    """
    is_d = any(key.startswith("block1.") for key in state_dict)
    bottom = None if is_d else _bottom_width(state_dict)
    bn_layers = {k.rsplit(".", 1)[0] for k in state_dict if k.endswith(".running_mean")}
    flat = {}
    for key, value in state_dict.items():
        layer, leaf = key.rsplit(".", 1)
        if leaf == "num_batches_tracked":
            continue  # A training-time counter; no momentum-free averaging uses it here.
        value = np.asarray(value, np.float32)
        path = _path(layer, is_d)
        if layer in bn_layers:
            collection, name = _BN[leaf]
            flat[f"{collection}/{path}/{name}"] = value
        elif leaf in ("weight_u", "weight_v", "sn_u"):
            flat[f"spectral_norm/{path}_sn/{leaf[-1]}"] = value.reshape(-1)
        elif leaf == "sn_sigma":
            continue  # Mimicry's own spectral norm records its last σ; its forward never reads it.
        else:
            name, value = _weight(layer, leaf, value, bottom)
            flat[f"params/{path}/{name}"] = value
    return _check(flat, template)


def _path(layer: str, is_d: bool) -> str:
    if is_d and (layer in _HEAD or re.fullmatch(r"l\d+", layer)):
        return _HEAD.get(layer, "head/linear")
    return layer.replace(".", "/")


def _weight(layer: str, leaf: str, value, bottom):
    """(jgan name, value) of a convolution, linear or embedding weight or bias."""
    name = leaf.removesuffix("_orig")
    embedding = layer.endswith("embed") or layer == "l_y"
    if name == "weight" and value.ndim == 4:
        return "kernel", value.transpose(2, 3, 1, 0)
    if name == "weight" and embedding:
        return "embedding", value
    if layer == "l1" and bottom:  # Rows (C, H, W) of G's first layer -> jgan's (H, W, C).
        value = value.reshape(-1, bottom, bottom, *value.shape[1:])
        value = np.moveaxis(value, 0, 2).reshape(-1, *value.shape[3:])
    return ("kernel", value.T) if name == "weight" else ("bias", value)


def _bottom_width(state_dict: dict) -> int:
    """G's bottom width: √(outputs of its first layer / channels of its first block)."""
    channels = next(np.shape(v)[0] for k, v in state_dict.items()
                    if re.fullmatch(r"block2\.b1(\.bn)?\.running_mean", k))
    return math.isqrt(np.shape(state_dict["l1.weight"])[0] // channels)


def _check(flat: dict, template: dict) -> dict:
    want = traverse_util.flatten_dict(template, sep="/")
    missing, extra = sorted(set(want) - set(flat)), sorted(set(flat) - set(want))
    if missing or extra:
        raise ValueError(f"Mimicry's state dict does not fit this module: missing "
                         f"{missing[:3]}, unexpected {extra[:3]}")
    for name, value in flat.items():
        if value.shape != tuple(np.shape(want[name])):
            raise ValueError(f"{name} has shape {value.shape} in Mimicry's state dict and "
                             f"{tuple(np.shape(want[name]))} in jgan's module")
    return traverse_util.unflatten_dict(flat, sep="/")
