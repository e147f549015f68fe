"""Input pipelines: random-access sources read through grain, as infinite numpy batches.

Every iterator yields {"image": float32 [B, *image_shape] in [-1, 1], "label": int32 [B]} (labels
when the dataset has them) and has `get_state()` / `set_state()` for exact resume.
"""
import functools
import os
import pathlib
from typing import Optional

import grain
import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from jgan.data import celeb_a, folder, prepare, tfds_write, toy2d

TOY_2D = ("grid", "ring")
CROPS = {"celeb_a": celeb_a.CROP}  # Central square taken before resizing, as the papers do.


def make_iterator(cfg, *, batch_size: int, image_shape, seed: int, process_index: int = 0,
                  process_count: int = 1):
    """This process's infinite stream of batches of `batch_size` examples for the dataset `cfg`.

    `cfg` has `name` (a TFDS dataset prepared in `data_dir`, "folder" with `path`, "ring" or
    "grid"), `split`, `data_dir`, `num_workers` and `fit` ("resize" or "pad": `preprocess`). Processes read disjoint shards that together
    cover the split; each epoch is reshuffled from `seed`.
    """
    name = cfg["name"]
    if name in TOY_2D:
        return toy2d.Stream(name, batch_size, seed, process_index, process_count)
    source = folder.ImageFolder(cfg["path"]) if name == "folder" else tfds_source(
        name, cfg.get("split", "train"), cfg.get("data_dir"))
    if len(source) < process_count * batch_size:
        raise ValueError(f"dataset {name!r} has {len(source)} examples: too few for {process_count} "
                         f"process(es) × batch {batch_size}")
    ds = grain.MapDataset.source(source)[process_index::process_count]
    fit = cfg.get("fit", "resize")
    ds = (ds.shuffle(seed=seed).repeat(None)
          .map(functools.partial(preprocess, image_shape=tuple(image_shape), crop=CROPS.get(name),
                                 fit=fit))
          .batch(batch_size, drop_remainder=True).to_iter_dataset())
    if cfg.get("num_workers", 0):
        ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=cfg["num_workers"]))
    return iter(ds)


def load_split(name: str, split: str, image_shape, data_dir: Optional[str] = None,
               num: Optional[int] = None, start: int = 0, fit: str = "resize") -> dict:
    """`num` examples (default: all) of a prepared TFDS split from index `start`, preprocessed, in
    memory: {"image": float32 [N, *image_shape] in [-1, 1], "label": int32 [N]} (labels if any)."""
    source = tfds_source(name, split, data_dir)
    stop = len(source) if num is None else min(start + num, len(source))
    examples = [preprocess(e, image_shape=tuple(image_shape), crop=CROPS.get(name), fit=fit)
                for e in source.__getitems__(list(range(start, stop)))]
    return {k: np.stack([e[k] for e in examples]) for k in examples[0]} if examples else {}


def tfds_source(name: str, split: str, data_dir: Optional[str]):
    """A prepared TFDS dataset's random-access source (ArrayRecord); never downloads. A dataset
    `jgan prepare` builds is read only if complete (a killed prepare leaves nothing readable)."""
    if name in prepare.DATASETS:
        problem = tfds_write.problem(name, data_dir)
        if problem:
            raise ValueError(f"dataset {name!r} in {data_dir or tfds.core.constants.DATA_DIR}: "
                             f"{problem}; run `jgan prepare {name} --data_dir DIR` (again)")
    try:
        return tfds.data_source(name, split=split, data_dir=data_dir, download=False)
    except Exception as e:  # noqa: BLE001 — TFDS raises several types for "not there".
        root = data_dir or tfds.core.constants.DATA_DIR
        prepared = sorted(p.name for p in pathlib.Path(root).glob("*") if p.is_dir()
                          and p.name not in ("downloads", "jgan_stats")) if os.path.isdir(root) else []
        raise ValueError(f"dataset {name!r} split {split!r} is not available in {root} "
                         f"({type(e).__name__}); expected one of {['folder', *TOY_2D]}, a dataset "
                         f"`jgan prepare` builds {list(prepare.DATASETS)}, or a prepared TFDS "
                         f"dataset there: {prepared}") from None


FITS = ("resize", "pad")


def preprocess(example: dict, *, image_shape: tuple, crop: Optional[int] = None,
               fit: str = "resize") -> dict:
    """uint8 image -> float32 in [-1, 1] of `image_shape` (the central `crop`×`crop` square first
    if given; channels converted; centre-cropped and resized if its size differs, or with
    `fit="pad"` centred on zeros, as Fashion-MNIST is padded to 32×32); `label` -> int32."""
    if fit not in FITS:
        raise ValueError(f"dataset fit {fit!r}; expected one of {', '.join(FITS)}")
    image = np.asarray(example["image"])
    if image.ndim == 2:
        image = image[..., None]
    if crop is not None:
        top, left = (image.shape[0] - crop) // 2, (image.shape[1] - crop) // 2
        image = image[top:top + crop, left:left + crop]
    height, width, channels = image_shape
    if image.shape[:2] != (height, width) and fit == "pad":
        image = _pad(image, height, width)
    elif image.shape[:2] != (height, width):
        image = _crop_resize(image, height, width)
    if image.shape[-1] != channels:
        image = _convert_channels(image, channels)
    out = {"image": image.astype(np.float32) / 127.5 - 1.0}
    if "label" in example:
        out["label"] = np.int32(example["label"])
    return out


def _pad(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """The image centred on a zero (black) canvas of height × width."""
    h, w = image.shape[:2]
    if h > height or w > width:
        raise ValueError(f"fit='pad' takes images no larger than {height}×{width}; got {h}×{w}")
    top, left = (height - h) // 2, (width - w) // 2
    return np.pad(image, ((top, height - h - top), (left, width - w - left), (0, 0)))


def _crop_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre crop to the target aspect ratio, then an antialiased bilinear resize."""
    h, w = image.shape[:2]
    crop_h, crop_w = min(h, round(w * height / width)), min(w, round(h * width / height))
    top, left = (h - crop_h) // 2, (w - crop_w) // 2
    cropped = image[top:top + crop_h, left:left + crop_w]
    pil = Image.fromarray(cropped[..., 0] if cropped.shape[-1] == 1 else cropped)
    resized = np.asarray(pil.resize((width, height), Image.BILINEAR))
    return resized if resized.ndim == 3 else resized[..., None]


def _convert_channels(image: np.ndarray, channels: int) -> np.ndarray:
    if image.shape[-1] == 1 and channels == 3:
        return np.repeat(image, 3, axis=-1)
    if image.shape[-1] in (3, 4) and channels == 1:  # ITU-R 601 luma, as PIL's "L" mode.
        luma = image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.round(luma)[..., None].astype(np.uint8)
    if image.shape[-1] == 4 and channels == 3:
        return image[..., :3]
    raise ValueError(f"cannot convert {image.shape[-1]}-channel images to {channels} channels")
