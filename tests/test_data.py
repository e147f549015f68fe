"""Data: offline Fashion-MNIST as TFDS, the grain pipeline, image folders, 2-D toy streams."""
import collections
import hashlib

import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from jgan import data
from jgan.data import fashion_mnist, toy2d

needs_fmnist = pytest.mark.skipif(
    not all((fashion_mnist.pathlib.Path(fashion_mnist.DEBIAN_DIR) / f).exists()
            for f in fashion_mnist.FILES),
    reason="Fashion-MNIST IDX files absent: apt-get install dataset-fashion-mnist")


def _cfg(**kw):
    return ml_collections.ConfigDict(dict(dict(name="fashion_mnist", split="train", data_dir=None,
                                               path=None, num_workers=0), **kw))


def _key(image, label):
    return hashlib.sha1(np.ascontiguousarray(image).tobytes() + bytes([int(label)])).hexdigest()


@needs_fmnist
def test_prepared_fashion_mnist_equals_the_idx_files(fmnist_dir):
    test_images, test_labels = fashion_mnist.load_arrays("test")
    train_images, train_labels = fashion_mnist.load_arrays("train")
    assert np.bincount(train_labels).tolist() == [6000] * 10
    assert np.bincount(test_labels).tolist() == [1000] * 10
    # A few pixels of the IDX content (first training image: an ankle boot, label 9).
    assert train_labels[0] == 9 and train_images[0].shape == (28, 28, 1)
    assert train_images[0, 0, 0, 0] == 0 and train_images[0].max() == 255
    test = tfds.data_source("fashion_mnist", split="test", data_dir=fmnist_dir, download=False)
    train = tfds.data_source("fashion_mnist", split="train", data_dir=fmnist_dir, download=False)
    assert (len(train), len(test)) == (60_000, 10_000)
    # The whole test split as a multiset of (image, label), and a sample of the train split.
    prepared = collections.Counter(_key(ex["image"], ex["label"]) for ex in test)
    assert prepared == collections.Counter(map(_key, test_images, test_labels))
    train_keys = set(map(_key, train_images, train_labels))
    rows = np.random.default_rng(0).choice(60_000, 200, replace=False)
    assert all(_key(train[int(i)]["image"], train[int(i)]["label"]) in train_keys for i in rows)
    info = tfds.builder("fashion_mnist", data_dir=fmnist_dir).info
    assert info.features["label"].num_classes == 10 and info.features["image"].shape == (28, 28, 1)


@needs_fmnist
def test_batches_are_seeded_and_resume_exactly(fmnist_dir):
    make = lambda seed: data.make_iterator(_cfg(data_dir=fmnist_dir), batch_size=16,
                                           image_shape=(28, 28, 1), seed=seed)
    a, b, c = make(0), make(0), make(1)
    first = next(a)
    assert first["image"].shape == (16, 28, 28, 1) and first["label"].dtype == np.int32
    assert -1.0 <= first["image"].min() and first["image"].max() <= 1.0
    np.testing.assert_array_equal(first["image"], next(b)["image"])
    assert not np.array_equal(first["image"], next(c)["image"])
    state = a.get_state()
    expected = next(a)
    resumed = make(0)
    resumed.set_state(state)
    np.testing.assert_array_equal(next(resumed)["image"], expected["image"])


def _numbered_folder(root, n=12, classes=("cats", "dogs")):
    """n tiny images whose pixels all equal their number, spread over class sub-folders."""
    for i in range(n):
        folder = root / classes[i % len(classes)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((6, 6), 10 * i, np.uint8)).save(folder / f"{i:02d}.png")
    return root


def test_two_processes_read_disjoint_shards_that_cover_the_split(tmp_path):
    root = _numbered_folder(tmp_path)
    seen = []
    for process in range(2):
        it = data.make_iterator(_cfg(name="folder", path=str(root)), batch_size=3,
                                image_shape=(6, 6, 1), seed=0, process_index=process,
                                process_count=2)
        epoch = np.concatenate([next(it)["image"] for _ in range(2)])  # 6 examples: one shard.
        seen.append({int(round((x[0, 0, 0] + 1) * 127.5 / 10)) for x in epoch})
    assert seen[0].isdisjoint(seen[1]) and seen[0] | seen[1] == set(range(12))


def test_folder_labels_resize_and_channels(tmp_path):
    root = _numbered_folder(tmp_path)
    batch = next(data.make_iterator(_cfg(name="folder", path=str(root)), batch_size=12,
                                    image_shape=(4, 4, 3), seed=0))
    assert batch["image"].shape == (12, 4, 4, 3)
    number = np.round((batch["image"][:, 0, 0, 0] + 1) * 127.5 / 10).astype(int)
    np.testing.assert_array_equal(batch["label"], number % 2)  # Even -> cats (0), odd -> dogs (1).


def test_empty_and_unreadable_folders_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match=f"image folder {tmp_path} has no"):
        data.make_iterator(_cfg(name="folder", path=str(tmp_path)), batch_size=1,
                           image_shape=(4, 4, 1), seed=0)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    it = data.make_iterator(_cfg(name="folder", path=str(tmp_path)), batch_size=1,
                            image_shape=(4, 4, 1), seed=0)
    with pytest.raises(ValueError, match="unreadable image .*broken.png"):
        next(it)


@pytest.mark.parametrize("name,num_modes", [("ring", 8), ("grid", 25)])
def test_toy_streams_sit_on_their_modes(name, num_modes):
    centres, std = toy2d.modes(name)
    assert centres.shape == (num_modes, 2)
    points = next(data.make_iterator(_cfg(name=name), batch_size=4000, image_shape=(2,), seed=0))["image"]
    nearest = np.linalg.norm(points[:, None] - centres[None], axis=-1)
    assert nearest.min(axis=1).max() < 6 * std
    assert len(np.unique(nearest.argmin(axis=1))) == num_modes


def test_toy_stream_global_batch_is_independent_of_process_count():
    one = data.make_iterator(_cfg(name="ring"), batch_size=8, image_shape=(2,), seed=3)
    two = [data.make_iterator(_cfg(name="ring"), batch_size=4, image_shape=(2,), seed=3,
                              process_index=p, process_count=2) for p in range(2)]
    for _ in range(2):
        np.testing.assert_array_equal(next(one)["image"],
                                      np.concatenate([next(it)["image"] for it in two]))


def test_unknown_dataset_lists_valid_names(tmp_path):
    with pytest.raises(ValueError, match=r"dataset 'mnits' .*expected one of \['folder', 'grid', "):
        data.make_iterator(_cfg(name="mnits", data_dir=str(tmp_path)), batch_size=1,
                           image_shape=(28, 28, 1), seed=0)


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist.*--source"):
        fashion_mnist.load_arrays("train", source=str(tmp_path))


def test_fit_pad_centres_small_images_on_black_and_bad_fits_are_named():
    image = np.full((28, 28), 255, np.uint8)
    out = data.preprocess({"image": image, "label": 3}, image_shape=(32, 32, 1), fit="pad")
    assert out["image"].shape == (32, 32, 1) and out["label"] == 3
    np.testing.assert_array_equal(out["image"][2:30, 2:30], 1.0)  # White, where it was.
    assert float(out["image"].sum()) == 28 * 28 - (32 * 32 - 28 * 28)  # The border is -1.
    with pytest.raises(ValueError, match=r"^dataset fit 'crop'; expected one of resize, pad$"):
        data.preprocess({"image": image}, image_shape=(32, 32, 1), fit="crop")
    with pytest.raises(ValueError, match=r"fit='pad' takes images no larger than 16×16; got "):
        data.preprocess({"image": image}, image_shape=(16, 16, 1), fit="pad")
