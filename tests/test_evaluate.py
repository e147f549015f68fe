"""Image evaluation: the Fashion-MNIST classifier's metrics, cached real features, the loop."""
import json

import numpy as np
import pytest
from PIL import Image

from jgan.run import configs
from jgan.metrics import evaluate
from jgan.run import loop
from jgan.metrics import classifier, weights
from test_data import needs_fmnist


def _images(n, seed):
    """Blocky 28×28 images whose brightness pattern depends on the class (labels = i % 4)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 4
    base = np.zeros((4, 28, 28, 1), np.float32)
    for c in range(4):
        base[c, 7 * c:7 * c + 7] = 1.0
    images = np.clip(base[labels] * 1.6 - 0.8 + 0.2 * rng.standard_normal((n, 28, 28, 1)), -1, 1)
    return images.astype(np.float32), labels


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A cache dir holding a classifier trained for one epoch on the blocky images."""
    root = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(root))
    images, labels = _images(512, 0)
    variables = classifier.train(images, labels, epochs=1, batch_size=64)
    weights.save_npz(weights.flatten(variables), classifier.default_weights_path())
    folder = root / "real"
    folder.mkdir()
    for i, image in enumerate(_images(64, 1)[0]):
        Image.fromarray(np.round((image[..., 0] + 1) * 127.5).astype(np.uint8)).save(folder / f"{i}.png")
    yield root
    mp.undo()


def _tiny_fmnist_config():
    """The shipped Fashion-MNIST config for 2 steps at batch 8. Both loop tests use it: their
    steps are one program, which the second gets from the session's compilation cache."""
    config = configs.load("seed_dcgan_fashion_mnist")
    config.update(dict(num_steps=2, log_every=1, sample_every=100, checkpoint_every=100,
                       eval_every=2, num_sample_images=4, batch_size=8))
    return config


def _config(folder):
    config = _tiny_fmnist_config()
    config.dataset.update(dict(name="folder", path=str(folder)))
    config.eval.update(dict(metrics=("fid_fmnist", "kid_fmnist"), num_samples=64, num_real=64))
    return config


def test_classifier_learns_and_its_weights_are_checked(cache, tmp_path):
    images, labels = _images(256, 2)
    assert classifier.accuracy(classifier.load_params(), images, labels) > 0.9
    flat = weights.flatten(classifier.load_params())
    flat["params/Dense_0/kernel"] = flat["params/Dense_0/kernel"][:10]
    weights.save_npz(flat, tmp_path / "bad.npz")
    with pytest.raises(ValueError, match=r"'params/Dense_0/kernel' expected shape \(3136, 128\), "
                                         r"found \(10, 128\)"):
        classifier.load_params(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError, match="python -m jgan.metrics.classifier"):
        classifier.load_params(tmp_path / "none.npz")


def test_classifier_training_is_deterministic(cache, tmp_path):
    images, labels = _images(512, 0)  # What the `cache` fixture trained on, with the same seed.
    weights.save_npz(weights.flatten(classifier.train(images, labels, epochs=1, batch_size=64)),
                     tmp_path / "again.npz")
    assert weights.file_hash(tmp_path / "again.npz") == classifier.weights_hash()


def test_fmnist_fid_is_zero_on_the_real_set_and_large_on_noise(cache):
    config = _config(cache / "real")
    real = _images(64, 1)[0]
    # The folder holds the images rounded to uint8, so the same set gives FID ≈ 0.
    same = evaluate.image_metrics(config, np.round((real + 1) * 127.5) / 127.5 - 1, ["fid_fmnist"])
    noise = np.random.default_rng(3).uniform(-1, 1, real.shape).astype(np.float32)
    other = evaluate.image_metrics(config, noise, ["fid_fmnist", "kid_fmnist"])
    assert abs(same["fid_fmnist"]) < 1e-3 and other["fid_fmnist"] > 100 * max(same["fid_fmnist"], 1e-3)
    assert set(other) == {"fid_fmnist", "kid_fmnist_mean", "kid_fmnist_std"} and other["kid_fmnist_mean"] > 0
    # Real features are cached once, keyed by the classifier's weights hash.
    cached = list((cache / "jgan" / "stats").glob("*.npz"))
    assert len(cached) == 1 and classifier.weights_hash()[:16] in cached[0].name


def test_bad_images_are_refused(cache):
    config = _config(cache / "real")
    with pytest.raises(ValueError, match=r"\[-1, 1\].*max 1.5"):
        evaluate.image_metrics(config, np.full((4, 28, 28, 1), 1.5, np.float32), ["fid_fmnist"])
    with pytest.raises(ValueError, match=r"\[N, 28, 28, 1\]; got shape \(4, 28, 28, 3\)"):
        evaluate.image_metrics(config, np.zeros((4, 28, 28, 3), np.float32), ["fid_fmnist"])
    with pytest.raises(ValueError, match=r"metrics \['modes'\] do not apply to image data"):
        evaluate.image_metrics(config, np.zeros((4, 28, 28, 1), np.float32), ["modes"])


def test_loop_logs_fmnist_metrics_and_refuses_missing_weights_up_front(cache, tmp_path, monkeypatch):
    config = _config(cache / "real")
    loop.train_and_evaluate(config, tmp_path / "run")
    rows = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/fid_fmnist" in r]
    assert [r["step"] for r in evals] == [2] and evals[0]["eval/fid_fmnist"] > 0
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="python -m jgan.metrics.classifier"):
        loop.train_and_evaluate(config, tmp_path / "run2")
    assert not (tmp_path / "run2" / "checkpoints").exists()  # Failed before any training.


@needs_fmnist
def test_fashion_mnist_configs_log_fid_fmnist_training_the_classifier_on_first_use(
        tmp_path, monkeypatch, fmnist_dir):
    for name in ("fashion_mnist", "fashion_mnist_long", "seed_dcgan_fashion_mnist",
                 "sngan_fashion_mnist", "cgan_pd_fashion_mnist", "lucic_fashion_mnist"):
        shipped = configs.load(name)
        assert "fid_fmnist" in shipped.eval.metrics and shipped.eval_every == shipped.sample_every
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # No classifier weights yet.
    real_train = classifier.train
    monkeypatch.setattr(classifier, "train", lambda images, labels, **kw: real_train(
        images[:256], labels[:256], epochs=1, batch_size=64))  # A token classifier: fast.
    config = _tiny_fmnist_config()
    config.update(dict(sample_every=2, checkpoint_every=2))
    config.dataset.data_dir = fmnist_dir
    config.eval.update(dict(num_samples=64, num_real=64))
    loop.train_and_evaluate(config, tmp_path / "run")
    assert classifier.default_weights_path().exists()
    rows = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/fid_fmnist" in r]
    assert [r["step"] for r in evals] == [2] and np.isfinite(evals[0]["eval/fid_fmnist"])
