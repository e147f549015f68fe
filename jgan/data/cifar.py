"""CIFAR-10 and CIFAR-100 from the official binary archives, as TFDS's `cifar10` and `cifar100`.

`cifar-10-binary.tar.gz` holds `cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin`, records
of 1 label byte and 3 072 image bytes (the red, green and blue 32×32 planes), and the label names
in `batches.meta.txt`; `cifar-100-binary.tar.gz` holds `cifar-100-binary/{train,test}.bin`,
records of a coarse and a fine label byte and the image, with `coarse_label_names.txt` and
`fine_label_names.txt`. TFDS's builders (its names, versions, features, splits, example keys and
`id`s) are fed from the archive by jgan instead of by TFDS's downloader, and images are passed to
TFDS as PNG bytes, so neither needs TensorFlow.
"""
import io
import tarfile
import zlib

import numpy as np
from PIL import Image
from tensorflow_datasets.image_classification import cifar as tfds_cifar

from jgan.data import tfds_write
from jgan.data.sources import Original

IMAGE_BYTES = 32 * 32 * 3
ORIGINALS = {  # Size and SHA-256 as TFDS records them for these URLs.
    "cifar10": Original("cifar-10-binary.tar.gz",
                        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", 170052171,
                        "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
    "cifar100": Original("cifar-100-binary.tar.gz",
                         "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz", 168513733,
                         "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec"),
}


def read_members(path, wanted: list[str]) -> dict[str, bytes]:
    """The members `wanted` of the .tar.gz at `path`, as bytes; one-line errors otherwise."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            names = tar.getnames()
            missing = [w for w in wanted if w not in names]
            if missing:
                raise ValueError(f"{path} lacks {missing[0]} ({len(missing)} of the expected "
                                 f"members missing; it holds {sorted(names)[:3]}...): not this "
                                 f"dataset's archive")
            return {w: tar.extractfile(w).read() for w in wanted}
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise ValueError(f"{path} is not a readable .tar.gz (truncated or corrupt: "
                         f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None


def parse_records(blob: bytes, num_labels: int, num_classes: tuple, where: str):
    """(labels [N, num_labels] uint8, images [N, 32, 32, 3] uint8) of a CIFAR .bin file."""
    record = num_labels + IMAGE_BYTES
    if not blob or len(blob) % record:
        raise ValueError(f"{where} has {len(blob)} bytes; expected a positive multiple of "
                         f"{record} ({num_labels} label byte(s) + {IMAGE_BYTES} image bytes per "
                         f"record): truncated, or another CIFAR's file")
    rows = np.frombuffer(blob, np.uint8).reshape(-1, record)
    labels = rows[:, :num_labels]
    for column, classes in enumerate(num_classes):
        if labels[:, column].max() >= classes:
            raise ValueError(f"{where}: label {int(labels[:, column].max())} outside "
                             f"0..{classes - 1}: not this dataset's file")
    images = rows[:, num_labels:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return labels, images


def label_names(blob: bytes, num_classes: int, where: str) -> list[str]:
    """Names, one a line (TFDS's rule: empty lines dropped), checked against the class count."""
    names = [name for name in blob.decode("utf-8", "replace").split("\n") if name]
    if len(names) != num_classes:
        raise ValueError(f"{where} names {len(names)} classes; expected {num_classes}")
    return names


def png(image_HxWxC: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image_HxWxC).save(buf, format="PNG")
    return buf.getvalue()


class _FromArchive:
    """TFDS's CIFAR builder with its `_split_generators` fed from a local archive."""

    def __init__(self, *, files: dict, **kwargs):
        self._archive = files[ORIGINALS[self.name].name]
        super().__init__(**kwargs)

    def _split_generators(self, dl_manager):
        info = self._cifar_info
        label_files = [info.prefix + f for f in info.label_files]
        splits = {"train": [info.prefix + f for f in info.train_files],
                  "test": [info.prefix + f for f in info.test_files]}
        members = read_members(self._archive, label_files + splits["train"] + splits["test"])
        for key, file in zip(info.label_keys, label_files):
            feature = self.info.features[key]
            feature.names = label_names(members[file], feature.num_classes, file)
        num_classes = tuple(self.info.features[k].num_classes for k in info.label_keys)
        return {split: self._examples(f"{split}_", [(f, members[f]) for f in files], num_classes)
                for split, files in splits.items()}

    def _examples(self, id_prefix: str, blobs, num_classes: tuple):
        """TFDS's keys (a running index) and `id`s ("train_00042")."""
        keys, index = self._cifar_info.label_keys, 0
        for where, blob in blobs:
            labels, images = parse_records(blob, len(keys), num_classes, where)
            for label_row, image in zip(labels, images):
                record = {k: int(v) for k, v in zip(keys, label_row)}
                record.update(id=f"{id_prefix}{index:05d}", image=png(image))
                yield index, record
                index += 1


class _Cifar10(_FromArchive, tfds_cifar.Cifar10, skip_registration=True):
    name = "cifar10"


class _Cifar100(_FromArchive, tfds_cifar.Cifar100, skip_registration=True):
    name = "cifar100"


CIFAR10 = tfds_write.Preparer("cifar10", _Cifar10, (ORIGINALS["cifar10"],))
CIFAR100 = tfds_write.Preparer("cifar100", _Cifar100, (ORIGINALS["cifar100"],))
