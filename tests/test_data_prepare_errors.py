"""`jgan prepare` on bad input: missing, truncated, corrupted or foreign archives fail in one line;
a prepare killed mid-write (or a bucket copy cut short) leaves nothing read as a dataset, and a
rerun completes it. Downloads are exercised through file:// URLs (no network)."""
import dataclasses
import gzip
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds
from etils import epath

from jgan.data import celeb_a, cifar, fashion_mnist, mnist, pipeline, sources, tfds_write
from jgan.data import prepare as prepare_lib
from jgan.run import cli
from test_data_prepare import (REPO, _idx, trust, trust_fashion, write_celeb_a, write_cifar,
                               write_idx_set)


def _prepare_error(name, source, data_dir) -> str:
    """The message `jgan prepare` exits with; it must be one line."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["jgan", "prepare", name, "--source", str(source), "--data_dir", str(data_dir)])
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and "\n" not in message, message
    return message


def _not_readable(name, data_dir) -> None:
    assert tfds_write.problem(name, str(data_dir)) is not None
    with pytest.raises(ValueError, match=f"dataset '{name}'"):
        pipeline.tfds_source(name, "train", str(data_dir))


def test_missing_truncated_corrupted_and_foreign_cifar(tmp_path, monkeypatch):
    src, data_dir = tmp_path / "src", tmp_path / "tfds"
    src.mkdir()
    assert "not found in" in _prepare_error("cifar10", src, data_dir)
    assert "is not a directory" in _prepare_error("cifar10", tmp_path / "nowhere", data_dir)
    write_cifar(src, "cifar10")
    trust(monkeypatch, cifar.CIFAR10, src)
    archive = src / "cifar-10-binary.tar.gz"
    good = archive.read_bytes()
    archive.write_bytes(good[:len(good) // 2])
    assert "bytes; expected" in _prepare_error("cifar10", src, data_dir)
    assert "(truncated" in _prepare_error("cifar10", src, data_dir)
    archive.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    assert "SHA-256" in _prepare_error("cifar10", src, data_dir)
    # Past the checksum (as if the expected hash were this file's), the format checks hold.
    archive.write_bytes(good[:len(good) // 2])
    trust(monkeypatch, cifar.CIFAR10, src)
    assert "not a readable .tar.gz" in _prepare_error("cifar10", src, data_dir)
    other = tmp_path / "other"
    other.mkdir()
    write_cifar(other, "cifar100")
    shutil.copy(other / "cifar-100-binary.tar.gz", archive)
    trust(monkeypatch, cifar.CIFAR10, src)
    message = _prepare_error("cifar10", src, data_dir)
    assert "lacks cifar-10-batches-bin/" in message and "not this dataset's archive" in message
    _not_readable("cifar10", data_dir)
    write_cifar(src, "cifar10")  # A rerun with the right archive completes.
    trust(monkeypatch, cifar.CIFAR10, src)
    cli.main(["jgan", "prepare", "cifar10", "--source", str(src), "--data_dir", str(data_dir)])
    assert len(pipeline.tfds_source("cifar10", "train", str(data_dir))) == 10


def test_bad_idx_and_celeb_a_files(tmp_path, monkeypatch):
    src, data_dir = tmp_path / "mnist", tmp_path / "tfds"
    src.mkdir()
    write_idx_set(src, seed=0)
    labels, images = src / "t10k-labels-idx1-ubyte.gz", src / "t10k-images-idx3-ubyte.gz"
    shutil.copy(labels, images)  # A labels file where the images belong.
    trust(monkeypatch, mnist.MNIST, src)
    assert "IDX header" in _prepare_error("mnist", src, data_dir)
    images.write_bytes(gzip.compress(_idx(np.zeros((2, 27, 28), np.uint8))))
    trust(monkeypatch, mnist.MNIST, src)
    assert "IDX dimensions [2, 27, 28]" in _prepare_error("mnist", src, data_dir)
    images.write_bytes(gzip.compress(b"\0\0\x08\x03" + bytes(20))[:-6])
    trust(monkeypatch, mnist.MNIST, src)
    assert "not a readable gzip file" in _prepare_error("mnist", src, data_dir)
    _not_readable("mnist", data_dir)

    src = tmp_path / "celeb"
    src.mkdir()
    write_celeb_a(src)
    zip_path = src / "img_align_celeba.zip"
    with zipfile.ZipFile(zip_path) as full, zipfile.ZipFile(tmp_path / "short.zip", "w") as short:
        for info in full.infolist()[:-1]:
            short.writestr(info, full.read(info))
    shutil.copy(tmp_path / "short.zip", zip_path)
    trust(monkeypatch, celeb_a.CELEB_A, src)
    assert "lacks img_align_celeba/000005.jpg" in _prepare_error("celeb_a", src, data_dir)
    zip_path.write_bytes(zip_path.read_bytes()[:100])
    trust(monkeypatch, celeb_a.CELEB_A, src)
    assert "not a readable zip archive" in _prepare_error("celeb_a", src, data_dir)
    write_celeb_a(src)
    (src / "list_eval_partition.txt").write_text("000001.jpg 7\n")
    trust(monkeypatch, celeb_a.CELEB_A, src)
    assert "expected '<image>.jpg <0|1|2>'" in _prepare_error("celeb_a", src, data_dir)
    _not_readable("celeb_a", data_dir)


_KILLED_PREPARE = """
import dataclasses, os, pathlib, signal, sys
from jgan.data import cifar, sources
src, data_dir = sys.argv[1:]
o = cifar.CIFAR10.originals[0]
path = pathlib.Path(src) / o.name
cifar.CIFAR10.originals = (dataclasses.replace(o, size=path.stat().st_size,
                                               sha256=sources.sha256(path)),)
parse, calls = cifar.parse_records, []
def parse_then_die(*args):  # SIGKILL after the train split's files, before the test split's.
    calls.append(1)
    if len(calls) == 6:
        os.kill(os.getpid(), signal.SIGKILL)
    return parse(*args)
cifar.parse_records = parse_then_die
cifar.CIFAR10.prepare(data_dir, src)
"""


def test_killed_prepare_is_never_read_and_a_rerun_completes(tmp_path, monkeypatch):
    src, data_dir = tmp_path / "src", tmp_path / "tfds"
    src.mkdir()
    write_cifar(src, "cifar10")
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(_KILLED_PREPARE), str(src),
                          str(data_dir)], env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]
    leftovers = list((data_dir / "cifar10").glob("incomplete.*"))
    assert leftovers and any(leftovers[0].rglob("*array_record*"))  # Killed mid-write.
    with pytest.raises(ValueError, match="a prepare was interrupted .*jgan prepare cifar10"):
        pipeline.tfds_source("cifar10", "train", str(data_dir))
    with pytest.raises(Exception):
        tfds.data_source("cifar10", split="train", data_dir=str(data_dir), download=False)
    trust(monkeypatch, cifar.CIFAR10, src)
    cifar.CIFAR10.prepare(str(data_dir), str(src))
    assert not list((data_dir / "cifar10").glob("incomplete.*"))
    assert len(pipeline.tfds_source("cifar10", "train", str(data_dir))) == 10


_KILLED_FASHION = """
import gzip, hashlib, os, pathlib, signal, sys
from jgan.data import fashion_mnist
src, data_dir = sys.argv[1:]
for name in fashion_mnist.FILES:  # Trust the synthetic files (see trust_fashion).
    raw = gzip.decompress((pathlib.Path(src) / name).read_bytes())
    fashion_mnist.FILES[name] = hashlib.sha256(raw).hexdigest()
load = fashion_mnist.load_arrays
def load_then_die(split, source=None):  # SIGKILL once the train split is written.
    if split == "test":
        os.kill(os.getpid(), signal.SIGKILL)
    return load(split, source)
fashion_mnist.load_arrays = load_then_die
fashion_mnist.prepare(data_dir, src)
"""


def test_killed_fashion_mnist_prepare_is_never_read_and_a_rerun_cleans_up_and_completes(
        tmp_path, monkeypatch):
    src, data_dir = tmp_path / "src", tmp_path / "tfds"
    src.mkdir()
    write_idx_set(src, seed=3)
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(_KILLED_FASHION), str(src),
                          str(data_dir)], env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]
    leftovers = list((data_dir / "fashion_mnist").glob("incomplete.*"))
    assert len(leftovers) == 1 and any(leftovers[0].rglob("*array_record*"))  # Mid-write.
    assert not fashion_mnist.is_prepared(str(data_dir))
    with pytest.raises(ValueError, match="a prepare was interrupted .*jgan prepare fashion_mnist"):
        pipeline.tfds_source("fashion_mnist", "train", str(data_dir))
    trust_fashion(monkeypatch, src)
    prepare_lib.ensure_prepared("fashion_mnist", str(data_dir), str(src))  # What `jgan train` does.
    assert not list((data_dir / "fashion_mnist").glob("incomplete.*"))
    assert len(pipeline.tfds_source("fashion_mnist", "train", str(data_dir))) == 3


def test_interrupted_bucket_copy_is_never_read_and_a_rerun_completes(tmp_path, monkeypatch):
    src, built_dir, bucket = tmp_path / "src", tmp_path / "built", tmp_path / "bucket"
    src.mkdir()
    write_cifar(src, "cifar10")
    trust(monkeypatch, cifar.CIFAR10, src)
    version_dir = pathlib.Path(cifar.CIFAR10.prepare(str(built_dir), str(src)))
    target = epath.Path(bucket) / "cifar10" / version_dir.name
    path_cls = type(epath.Path(tmp_path))
    copy, copied = path_cls.copy, []

    def copy_then_fail(self, dest, **kwargs):
        if len(copied) == 3:
            raise OSError("connection reset")
        copied.append(dest)
        return copy(self, dest, **kwargs)

    monkeypatch.setattr(path_cls, "copy", copy_then_fail)
    with pytest.raises(OSError):
        tfds_write.publish(version_dir, target)
    assert copied and not (target / tfds_write.INFO_FILE).exists()
    assert "a copy was interrupted" in tfds_write.problem("cifar10", str(bucket))
    with pytest.raises(ValueError, match="a copy was interrupted"):
        pipeline.tfds_source("cifar10", "train", str(bucket))
    monkeypatch.setattr(path_cls, "copy", copy)
    tfds_write.publish(version_dir, target)
    assert tfds_write.problem("cifar10", str(bucket)) is None
    assert len(tfds.data_source("cifar10", split="test", data_dir=str(bucket), download=False)) == 2


def test_download_is_verified_and_leaves_nothing_when_wrong(tmp_path, monkeypatch):
    served, data_dir = tmp_path / "served", tmp_path / "tfds"
    served.mkdir()
    write_cifar(served, "cifar10")
    trust(monkeypatch, cifar.CIFAR10, served)
    archive = served / "cifar-10-binary.tar.gz"
    url = archive.as_uri()
    monkeypatch.setattr(cifar.CIFAR10, "originals",
                        (dataclasses.replace(cifar.CIFAR10.originals[0], url=url),))
    downloads = data_dir / "downloads" / "cifar10"
    good = archive.read_bytes()
    archive.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(ValueError, match=f"downloaded {url}: .*SHA-256"):
        cifar.CIFAR10.prepare(str(data_dir))
    assert not list(downloads.glob("*"))
    archive.unlink()
    with pytest.raises(FileNotFoundError, match=f"could not fetch {url}"):
        cifar.CIFAR10.prepare(str(data_dir))
    archive.write_bytes(good)
    cifar.CIFAR10.prepare(str(data_dir))
    assert sources.sha256(downloads / archive.name) == cifar.CIFAR10.originals[0].sha256
    assert len(pipeline.tfds_source("cifar10", "test", str(data_dir))) == 2
