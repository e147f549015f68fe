"""MNIST from its four original gzipped IDX files, as TFDS's `mnist`.

An IDX file is a big-endian header — two zero bytes, a type byte (0x08: unsigned bytes), the number
of dimensions, one uint32 per dimension — then the values: images [N, 28, 28], labels [N]. The
files are checked against the SHA-256 TFDS records for them, their headers against the format,
and then fed to TFDS's own `mnist` builder (version, features, splits, keys) as PNG bytes.
"""
import gzip
import io
import zlib

import numpy as np
from PIL import Image
from tensorflow_datasets.image_classification import mnist as tfds_mnist

from jgan.data import tfds_write
from jgan.data.sources import Original

URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
ORIGINALS = tuple(Original(name, URL + name, size, digest) for name, size, digest in (
    ("train-images-idx3-ubyte.gz", 9912422,
     "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    ("train-labels-idx1-ubyte.gz", 28881,
     "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    ("t10k-images-idx3-ubyte.gz", 1648877,
     "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    ("t10k-labels-idx1-ubyte.gz", 4542,
     "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
))
SPLITS = {"train": "train", "test": "t10k"}  # TFDS split -> file prefix.


def read_idx(path, item_shape: tuple) -> np.ndarray:
    """The uint8 array [N, *item_shape] of a gzipped IDX file; one-line errors otherwise."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{path} is not a readable gzip file (truncated or corrupt: "
                         f"{type(e).__name__})") from None
    ndim = 1 + len(item_shape)
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:4] != bytes([0, 0, 8, ndim]):
        raise ValueError(f"{path}: IDX header {raw[:4].hex()}; expected {bytes([0, 0, 8, ndim]).hex()}"
                         f" (unsigned bytes, {ndim} dimensions)")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    if dims[1:] != tuple(item_shape) or len(raw) != header + int(np.prod(dims)):
        raise ValueError(f"{path}: IDX dimensions {list(dims)} with {len(raw) - header} value "
                         f"bytes; expected [N{''.join(f', {d}' for d in item_shape)}] and "
                         f"N·{int(np.prod(item_shape))} bytes (truncated, or not MNIST)")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def load_split(files: dict, split: str):
    """(images [N, 28, 28] uint8, labels [N] uint8) of `split` from the verified files."""
    prefix = SPLITS[split]
    images_path = files[f"{prefix}-images-idx3-ubyte.gz"]
    labels_path = files[f"{prefix}-labels-idx1-ubyte.gz"]
    images, labels = read_idx(images_path, (28, 28)), read_idx(labels_path, ())
    if len(images) != len(labels):
        raise ValueError(f"{images_path.name} holds {len(images)} images but "
                         f"{labels_path.name} {len(labels)} labels; expected equal counts")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path}: label {int(labels.max())} outside 0..9")
    return images, labels


class _Mnist(tfds_mnist.MNIST, skip_registration=True):
    """TFDS's `mnist` builder, fed from the verified local files."""
    name = "mnist"

    def __init__(self, *, files: dict, **kwargs):
        self._files = files
        super().__init__(**kwargs)

    def _split_generators(self, dl_manager):
        return {split: self._examples(*load_split(self._files, split)) for split in SPLITS}

    def _examples(self, images, labels):
        for index, (image, label) in enumerate(zip(images, labels)):  # TFDS's keys: the index.
            buf = io.BytesIO()
            Image.fromarray(image).save(buf, format="PNG")
            yield index, {"image": buf.getvalue(), "label": int(label)}


MNIST = tfds_write.Preparer("mnist", _Mnist, ORIGINALS)
