"""DiffAugment (Zhao et al. 2020): differentiable augmentations of what D sees.

    step = jgan.make_train_step("hinge", augment="color,translation,cutout")

An augmentation is a function `op(key, x_BxHxWxC) -> x_BxHxWxC`, differentiable in `x`; a policy
is a sequence of them, applied in order with keys `fold_in(key, i)`. `policy(spec)` accepts a
comma-separated string of names from `AUGMENTATIONS` (`color`, `translation`, `cutout`, as in the
authors' `DiffAugment_pytorch.py`), a function, or a sequence of names and functions; "" or None is
no augmentation. The training step augments real and fake images in D's update (each with its own
draw) and the fake ones in G's update, so G learns through the augmentation.

Images are NHWC. `color` moves values out of the input's range, as the original does (brightness
±0.5, saturation ×[0, 2), contrast ×[0.5, 1.5)); `translation` fills with zeros and `cutout`
writes zeros.
"""
from typing import Callable, Sequence, Union

import jax
import jax.numpy as jnp

from jgan.registry import Registry

AUGMENTATIONS = Registry("augmentation")  # name -> op(key, x_BxHxWxC) -> x_BxHxWxC
Policy = tuple  # Of ops.


def policy(spec: Union[None, str, Callable, Sequence]) -> Policy:
    """The ops `spec` names (see the module docstring); unknown names raise a one-line error."""
    if spec is None or spec == "":
        return ()
    if isinstance(spec, str):
        spec = [name.strip() for name in spec.split(",")]
    elif callable(spec):
        spec = [spec]
    ops = []
    for item in spec:
        if isinstance(item, str):
            ops.append(AUGMENTATIONS.get(item))
        elif callable(item):
            ops.append(item)
        else:
            raise ValueError(f"augmentation {item!r}; expected a name from "
                             f"{AUGMENTATIONS.names()} or a function op(key, x) -> x")
    return tuple(ops)


def apply(ops: Policy, key: jax.Array, x: jax.Array) -> jax.Array:
    """`x` through `ops` in order, op i drawing from `fold_in(key, i)`."""
    for i, op in enumerate(ops):
        y = op(jax.random.fold_in(key, i), x)
        if y.shape != x.shape:
            raise ValueError(f"augmentation {getattr(op, '__name__', op)!r} turned shape "
                             f"{tuple(x.shape)} into {tuple(y.shape)}; expected the same shape")
        x = y
    return x


def _check_images(x, name: str):
    if x.ndim != 4:
        raise ValueError(f"augmentation {name!r} needs images [B, H, W, C]; got shape "
                         f"{tuple(x.shape)}")


def _uniform_B(key, x, minval=0.0, maxval=1.0):
    """One draw per example, broadcastable over its pixels."""
    return jax.random.uniform(key, (x.shape[0], 1, 1, 1), x.dtype, minval, maxval)


def brightness(key, x):
    """x + U[-0.5, 0.5) per example."""
    return x + _uniform_B(key, x, -0.5, 0.5)


def saturation(key, x):
    """Each pixel's spread around its channel mean scaled by U[0, 2) per example."""
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) * _uniform_B(key, x, 0.0, 2.0) + mean


def contrast(key, x):
    """Each image's spread around its mean scaled by U[0.5, 1.5) per example."""
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return (x - mean) * _uniform_B(key, x, 0.5, 1.5) + mean


@AUGMENTATIONS.register("color")
def color(key, x):
    """Brightness, saturation, contrast (DiffAugment's `color`)."""
    _check_images(x, "color")
    for i, op in enumerate((brightness, saturation, contrast)):
        x = op(jax.random.fold_in(key, i), x)
    return x


@AUGMENTATIONS.register("translation")
def translation(key, x, ratio: float = 0.125):
    """Shifts each image by up to `ratio` of its size (integer pixels, per example and axis),
    filling with zeros."""
    _check_images(x, "translation")
    B, H, W, _ = x.shape
    shift_h, shift_w = int(H * ratio + 0.5), int(W * ratio + 0.5)
    key_h, key_w = jax.random.split(key)
    dh = jax.random.randint(key_h, (B, 1), -shift_h, shift_h + 1)
    dw = jax.random.randint(key_w, (B, 1), -shift_w, shift_w + 1)
    # Rows and columns read from the image padded by one zero pixel, clamped into the padding.
    rows = jnp.clip(jnp.arange(H)[None] + dh + 1, 0, H + 1)
    cols = jnp.clip(jnp.arange(W)[None] + dw + 1, 0, W + 1)
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    return jax.vmap(lambda image, r, c: image[r[:, None], c[None, :]])(padded, rows, cols)


@AUGMENTATIONS.register("cutout")
def cutout(key, x, ratio: float = 0.5):
    """Zeros one square of `ratio` of each image's size at a random centre, per example."""
    _check_images(x, "cutout")
    B, H, W, _ = x.shape
    size_h, size_w = int(H * ratio + 0.5), int(W * ratio + 0.5)
    key_h, key_w = jax.random.split(key)
    top = jax.random.randint(key_h, (B, 1), 0, H + (1 - size_h % 2)) - size_h // 2
    left = jax.random.randint(key_w, (B, 1), 0, W + (1 - size_w % 2)) - size_w // 2
    in_rows = (jnp.arange(H)[None] >= top) & (jnp.arange(H)[None] < top + size_h)
    in_cols = (jnp.arange(W)[None] >= left) & (jnp.arange(W)[None] < left + size_w)
    mask_BxHxW = ~(in_rows[:, :, None] & in_cols[:, None, :])
    return x * mask_BxHxW[..., None].astype(x.dtype)
