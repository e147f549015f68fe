"""`jgan prepare` for CIFAR-10/100, MNIST, Fashion-MNIST and CelebA from synthetic archives in the
official byte layouts, read back through TFDS and jgan's pipeline with no TensorFlow imported.

Each archive holds a handful of random images written by the test (CIFAR's 1+3072- and
2+3072-byte records in a .tar.gz, gzipped IDX files, a zip of JPEGs with the CelebA text files).
The published SHA-256s cannot match them, so the fixture records each synthetic file's size and
hash as the expected ones; the checks themselves run unchanged.
"""
import collections
import dataclasses
import gzip
import hashlib
import io
import pathlib
import sys
import tarfile
import zipfile

import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from jgan.data import celeb_a, cifar, fashion_mnist, mnist, pipeline, sources
from jgan.data import prepare as prepare_lib
from jgan.run import cli

REPO = pathlib.Path(__file__).resolve().parents[1]
CELEB_FILES = [f"{i:06d}.jpg" for i in range(1, 6)]
CELEB_SPLIT = {"train": [0, 1, 2], "validation": [3], "test": [4]}


# ------------------------------------------------------------------ synthetic archives

def _tar_gz(path, members: dict) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def write_cifar(root, name: str, seed: int = 0, per_file: int = 2) -> dict:
    """The archive `name` ("cifar10"/"cifar100") with `per_file` records per .bin; returns
    {split: (labels [N, L], images [N, 32, 32, 3])} in file order."""
    rng = np.random.default_rng(seed)
    hundred = name == "cifar100"
    prefix = "cifar-100-binary/" if hundred else "cifar-10-batches-bin/"
    files = ({"train": ["train.bin"], "test": ["test.bin"]} if hundred else
             {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]})
    classes = (20, 100) if hundred else (10,)
    members, arrays = {}, {}
    for split, names in files.items():
        n = per_file * len(names)
        labels = np.stack([rng.integers(0, c, n) for c in classes], 1).astype(np.uint8)
        images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)  # R, G, B planes.
        records = np.concatenate([labels, planes], 1)
        for i, file in enumerate(names):
            members[prefix + file] = records[per_file * i:per_file * (i + 1)].tobytes()
        arrays[split] = (labels, images)
    if hundred:
        members[prefix + "coarse_label_names.txt"] = "\n".join(f"coarse{i}" for i in range(20)).encode()
        members[prefix + "fine_label_names.txt"] = "\n".join(f"fine{i}" for i in range(100)).encode()
    else:
        members[prefix + "batches.meta.txt"] = ("\n".join(f"class{i}" for i in range(10)) + "\n\n").encode()
    _tar_gz(pathlib.Path(root) / cifar.ORIGINALS[name].name, members)
    return arrays


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def write_idx_set(root, seed: int, gzipped: bool = True) -> dict:
    """MNIST-layout IDX files (3 train, 2 test images); returns {split: (images, labels)}."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, prefix, n in (("train", "train", 3), ("test", "t10k", 2)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte" + (".gz" if gzipped else "")
            raw = _idx(array)
            (pathlib.Path(root) / name).write_bytes(gzip.compress(raw, mtime=0) if gzipped else raw)
        arrays[split] = (images, labels)
    return arrays


def write_celeb_a(root, seed: int = 0) -> dict:
    """A zip of 5 aligned-size JPEGs — an outer frame of one colour around the central 160×160
    crop of another — and the four text files; returns {file: (inner colour, attrs, marks, id)}."""
    rng = np.random.default_rng(seed)
    root, truth = pathlib.Path(root), {}
    with zipfile.ZipFile(root / "img_align_celeba.zip", "w") as archive:
        for i, file in enumerate(CELEB_FILES):
            inner = rng.integers(60, 190, 3).astype(np.uint8)
            image = np.empty((218, 178, 3), np.uint8)
            image[:] = 255 - inner
            image[29:189, 9:169] = inner
            buf = io.BytesIO()
            Image.fromarray(image).save(buf, format="JPEG", quality=95, subsampling=0)
            archive.writestr(celeb_a.IMAGES_DIR + file, buf.getvalue())
            truth[file] = (inner, rng.choice([-1, 1], 40), rng.integers(0, 200, 10), 1000 + i)
    split_of = {CELEB_FILES[i]: n for n, (_, idx) in enumerate(CELEB_SPLIT.items()) for i in idx}
    (root / "list_eval_partition.txt").write_text(
        "".join(f"{f} {split_of[f]}\n" for f in CELEB_FILES))
    tfds_celeb = celeb_a.tfds_celeb_a
    for name, headings, col in (("list_attr_celeba.txt", tfds_celeb.ATTR_HEADINGS, 1),
                                ("list_landmarks_align_celeba.txt", tfds_celeb.LANDMARK_HEADINGS, 2)):
        rows = "".join(f"{f} " + " ".join(map(str, truth[f][col])) + "\n" for f in CELEB_FILES)
        (root / name).write_text(f"{len(CELEB_FILES)}\n" + " ".join(headings) + "\n" + rows)
    (root / "identity_CelebA.txt").write_text("".join(f"{f} {truth[f][3]}\n" for f in CELEB_FILES))
    return truth


def trust(monkeypatch, preparer, root) -> None:
    """Makes `preparer` expect the synthetic files in `root` (their sizes and SHA-256s)."""
    monkeypatch.setattr(preparer, "originals", tuple(dataclasses.replace(
        o, size=(pathlib.Path(root) / o.name).stat().st_size,
        sha256=sources.sha256(pathlib.Path(root) / o.name)) for o in preparer.originals))


def trust_fashion(monkeypatch, root) -> None:
    for name in fashion_mnist.FILES:
        raw = gzip.decompress((pathlib.Path(root) / name).read_bytes())
        monkeypatch.setitem(fashion_mnist.FILES, name, hashlib.sha256(raw).hexdigest())


PREPARERS = {"cifar10": cifar.CIFAR10, "cifar100": cifar.CIFAR100, "mnist": mnist.MNIST,
             "celeb_a": celeb_a.CELEB_A}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every dataset prepared from its synthetic archive into one data_dir, through
    `jgan prepare`: (data_dir, {name: ground truth}, {name: source dir})."""
    root = tmp_path_factory.mktemp("prepare")
    data_dir, truth, dirs = str(root / "tfds"), {}, {}
    mp = pytest.MonkeyPatch()
    for name in ("cifar10", "cifar100", "mnist", "celeb_a", "fashion_mnist"):
        dirs[name] = root / "src" / name
        dirs[name].mkdir(parents=True)
        truth[name] = (write_cifar(dirs[name], name) if name.startswith("cifar") else
                       write_celeb_a(dirs[name]) if name == "celeb_a" else
                       write_idx_set(dirs[name], seed=len(name)))
        if name == "fashion_mnist":
            trust_fashion(mp, dirs[name])
        else:
            trust(mp, PREPARERS[name], dirs[name])
        cli.main(["jgan", "prepare", name, "--source", str(dirs[name]), "--data_dir", data_dir])
    yield data_dir, truth, dirs
    mp.undo()


def _cfg(**kw):
    return ml_collections.ConfigDict(dict(dict(split="train", data_dir=None, path=None,
                                               num_workers=0), **kw))


def _u8(image_float):
    return np.round((np.asarray(image_float) + 1) * 127.5).astype(np.uint8)


# ------------------------------------------------------------------ reading back

@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_reads_back_with_tfds_names_ids_and_pixels(built, name):
    data_dir, truth, _ = built
    info = tfds.builder(name, data_dir=data_dir).info
    assert str(info.version) == "3.0.2"
    for split, (labels, images) in truth[name].items():
        source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
        assert len(source) == len(images) == info.splits[split].num_examples
        for example in source:  # TFDS's ids: "<split>_<index in file order>".
            index = int(example["id"].decode().rsplit("_", 1)[1])
            np.testing.assert_array_equal(example["image"], images[index])
            assert example["label"] == labels[index, -1]
            if name == "cifar100":
                assert example["coarse_label"] == labels[index, 0]
    names = info.features["label"].names
    assert names[:2] == (["fine0", "fine1"] if name == "cifar100" else ["class0", "class1"])
    # The training pipeline: one batch of the whole train split.
    labels, images = truth[name]["train"]
    batch = next(pipeline.make_iterator(_cfg(name=name, data_dir=data_dir), batch_size=len(images),
                                        image_shape=(32, 32, 3), seed=0))
    got = collections.Counter((_u8(i).tobytes(), int(l)) for i, l in zip(batch["image"], batch["label"]))
    assert got == collections.Counter((i.tobytes(), int(l)) for i, l in zip(images, labels[:, -1]))


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_datasets_read_back_through_the_pipeline(built, name):
    data_dir, truth, _ = built
    info = tfds.builder(name, data_dir=data_dir).info
    assert info.features["image"].shape == (28, 28, 1) and info.features["label"].num_classes == 10
    for split, (images, labels) in truth[name].items():
        batch = pipeline.load_split(name, split, (28, 28, 1), data_dir)
        got = collections.Counter((_u8(i)[..., 0].tobytes(), int(l))
                                  for i, l in zip(batch["image"], batch["label"]))
        assert got == collections.Counter((i.tobytes(), int(l)) for i, l in zip(images, labels))
    if name == "fashion_mnist":
        assert info.features["label"].names[9] == "Ankle boot"


def test_celeb_a_reads_back_with_annotations_and_the_papers_crop(built):
    data_dir, truth, _ = built
    info = tfds.builder("celeb_a", data_dir=data_dir).info
    assert str(info.version) == "2.1.0" and info.features["image"].shape == (218, 178, 3)
    by_identity = {t[3]: (f, t) for f, t in truth["celeb_a"].items()}
    for split, indices in CELEB_SPLIT.items():
        source = tfds.data_source("celeb_a", split=split, data_dir=data_dir, download=False)
        assert len(source) == len(indices)
        for example in source:
            file, (inner, attrs, marks, _) = by_identity[int(example["identity"]["Identity_No"])]
            assert CELEB_FILES.index(file) in indices
            assert example["image"].shape == (218, 178, 3)
            assert np.abs(example["image"][109, 89].astype(int) - inner).max() <= 6  # JPEG.
            assert example["attributes"]["Smiling"] == (attrs[31] > 0)
            assert example["landmarks"]["nose_x"] == marks[4]
    # 64×64 through the pipeline: the central 160×160 only (the frame's colour never shows).
    batch = next(pipeline.make_iterator(_cfg(name="celeb_a", data_dir=data_dir), batch_size=3,
                                        image_shape=(64, 64, 3), seed=0))
    assert batch["image"].shape == (3, 64, 64, 3) and "label" not in batch
    inners = [t[0] for f, t in truth["celeb_a"].items() if CELEB_FILES.index(f) < 3]
    for image in _u8(batch["image"]).astype(int):
        corners = image[[0, 0, -1, -1], [0, -1, 0, -1]]
        assert any(np.abs(corners - inner).max() <= 12 for inner in inners), corners


def test_nothing_imports_tensorflow(built):
    assert not [m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow.")]


def test_prepare_reuses_a_complete_dataset(built, capsys):
    data_dir, _, dirs = built
    assert all(prepare_lib.PREPARERS.get(n).is_prepared(data_dir) for n in prepare_lib.DATASETS)
    before = sorted(p.name for p in pathlib.Path(data_dir, "cifar10", "3.0.2").iterdir())
    cli.main(["jgan", "prepare", "cifar10", "--source", str(dirs["cifar10"]), "--data_dir", data_dir])
    assert "prepared cifar10 in" in capsys.readouterr().out
    assert sorted(p.name for p in pathlib.Path(data_dir, "cifar10", "3.0.2").iterdir()) == before
