"""Fashion-MNIST from its four original IDX files, as the TFDS dataset `fashion_mnist`.

TFDS's own builder needs TensorFlow and checks the gzip bytes of the upstream download; the
Debian package `dataset-fashion-mnist` ships the same content with different gzip bytes. So jgan
reads the IDX files itself, verifies the SHA-256 of their *decompressed* content, and writes the
dataset through TFDS's builder (same name, version, features and splits, ArrayRecord files), so
`tfds.data_source("fashion_mnist", data_dir=...)` reads it without TensorFlow.
"""
import gzip
import hashlib
import io
import os
import pathlib
import urllib.request
from typing import Optional

import numpy as np
from PIL import Image
from tensorflow_datasets.image_classification import mnist

from jgan.data import tfds_write

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# SHA-256 of each file's decompressed content (identical upstream and in Debian's package).
FILES = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
_SPLIT_PREFIX = {"train": "train", "test": "t10k"}
_HOW_TO_GET = (f"install Debian's package (apt-get install dataset-fashion-mnist, files in "
               f"{DEBIAN_DIR}) or pass --source DIR with the four IDX files {sorted(FILES)}")


def _read_verified(path: pathlib.Path) -> bytes:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    want = FILES[path.name if path.suffix == ".gz" else path.name + ".gz"]
    if hashlib.sha256(raw).hexdigest() != want:
        raise ValueError(f"{path} is not the original Fashion-MNIST file (SHA-256 of its content "
                         f"differs from {want})")
    return raw


def _find(name: str, source: Optional[str]) -> pathlib.Path:
    """The IDX file `name` (gzipped or not) in `source`, else in Debian's directory."""
    for folder in ([source] if source else [DEBIAN_DIR]):
        for candidate in (pathlib.Path(folder) / name, pathlib.Path(folder) / name[:-3]):
            if candidate.exists():
                return candidate
    where = source or DEBIAN_DIR
    raise FileNotFoundError(f"Fashion-MNIST file {name} not found in {where}; {_HOW_TO_GET}")


def download(dest: str) -> str:
    """Fetches the four files from the original URLs into `dest`, verifying their content."""
    os.makedirs(dest, exist_ok=True)
    for name in FILES:
        path = pathlib.Path(dest) / name
        if not path.exists():
            try:
                with urllib.request.urlopen(URL + name, timeout=30) as response:
                    payload = response.read()
            except OSError as e:
                raise FileNotFoundError(f"Fashion-MNIST is not available offline and {URL + name} "
                                        f"could not be fetched ({e}); {_HOW_TO_GET}") from None
            path.with_suffix(".tmp").write_bytes(payload)
            path.with_suffix(".tmp").rename(path)
        _read_verified(path)
    return dest


def read_idx(raw: bytes) -> np.ndarray:
    """Decodes an IDX byte string (big-endian header: magic, then one uint32 per dimension)."""
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", ndim, 4)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_arrays(split: str, source: Optional[str] = None):
    """(images [N, 28, 28, 1] uint8, labels [N] int64) of `split` ("train" or "test")."""
    if split not in _SPLIT_PREFIX:
        raise ValueError(f"unknown Fashion-MNIST split {split!r}; expected one of {sorted(_SPLIT_PREFIX)}")
    prefix = _SPLIT_PREFIX[split]
    images = read_idx(_read_verified(_find(f"{prefix}-images-idx3-ubyte.gz", source)))
    labels = read_idx(_read_verified(_find(f"{prefix}-labels-idx1-ubyte.gz", source)))
    return images[..., None], labels.astype(np.int64)


class _Builder(mnist.FashionMNIST, skip_registration=True):
    """TFDS's `fashion_mnist` builder, fed from local IDX files instead of a download."""
    name = "fashion_mnist"

    def __init__(self, *, source: Optional[str], **kwargs):
        self._source = source
        super().__init__(**kwargs)

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(split) for split in _SPLIT_PREFIX}

    def _generate_examples(self, split):
        images, labels = load_arrays(split, self._source)
        for index, (image, label) in enumerate(zip(images, labels)):
            # Passed as encoded PNG bytes: TFDS would otherwise call TensorFlow to encode them.
            buf = io.BytesIO()
            Image.fromarray(image[..., 0]).save(buf, format="PNG")
            buf.seek(0)
            yield index, {"image": buf, "label": int(label)}  # TFDS's keys: the IDX index.


def prepare(data_dir: Optional[str] = None, source: Optional[str] = None) -> str:
    """Writes the TFDS dataset `fashion_mnist` (ArrayRecord) into `data_dir`; returns its path.

    Through `tfds_write.build`, like every dataset jgan prepares: a prepare killed midway leaves
    nothing that is read as a dataset, and the next one removes its leftovers and starts again.
    """
    if source is None and not pathlib.Path(DEBIAN_DIR).exists():
        source = download(str(tfds_write.download_dir(data_dir, "fashion_mnist_idx")))
    for name in FILES:  # Fail before TFDS starts writing if anything is missing.
        _find(name, source)
    return tfds_write.build(_Builder, data_dir, source=source)


def is_prepared(data_dir: Optional[str] = None) -> bool:
    return tfds_write.problem("fashion_mnist", data_dir) is None
