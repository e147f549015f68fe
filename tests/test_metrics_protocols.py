"""Evaluation protocols: the registry, the metrics on cached reference statistics, the FID
Inception sharded over 4 CPU devices against 1, and a protocol evaluation end to end on a CIFAR-10
prepared from a synthetic archive (random Inception weights: the wiring, not the numbers)."""
import functools

import flax
import jax
import numpy as np
import pytest

from jgan import metrics
from jgan.data import cifar, pipeline
from jgan.metrics import distribution, evaluate, inception, protocols, weights
from jgan.run.configs import dcgan32_cifar10, default
from test_data_prepare import trust, write_cifar


def test_registry_names_each_protocol_with_its_split_and_counts():
    expected = {"50k_train": ("train", 50_000), "10k_test": ("test", 10_000),
                "10k_train": ("train", 10_000)}
    for metric in ("fid", "kid", "pr"):
        for suffix, (split, num) in expected.items():
            protocol = protocols.PROTOCOLS.get(metric + suffix)
            assert (protocol.metric, protocol.split, protocol.num_real, protocol.num_fake) == \
                (metric, split, num, num)
            assert metrics.get(metric + suffix).protocol is protocol
    assert protocols.PROTOCOLS.get("is50k").split is None
    assert protocols.PROTOCOLS.get("fid50k_train").describe("fid50k_train")["origin"].startswith("Mimicry")
    with pytest.raises(ValueError, match=r"unknown evaluation protocol 'fid5k'; expected one of \["):
        protocols.PROTOCOLS.get("fid5k")
    config = dcgan32_cifar10.get_config()
    assert config.eval.metrics and all(metrics.get(n).protocol for n in config.eval.metrics)


def test_protocol_metrics_equal_the_reference_definitions():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((300, 12)).astype(np.float32)
    fake = np.concatenate([real[:40], rng.standard_normal((210, 12)).astype(np.float32) * 1.3])
    ours = protocols.precision_recall(fake, {"features": real}, rows=64)  # 5 chunks, padded.
    assert ours == distribution.precision_recall(fake, real)
    assert 0 < ours["precision"] < 1 and 0 < ours["recall"] < 1
    mu, sigma = distribution.feature_stats(real)
    assert protocols.fid(fake, {"mu": mu, "sigma": sigma})["fid"] == pytest.approx(
        distribution.fid(fake, real)["fid"], rel=1e-12)


@pytest.fixture(scope="module")
def variables():
    """Random FID Inception weights: He-scaled kernels, unit BatchNorm (no compiled init)."""
    rng, flat = np.random.default_rng(0), {}
    for name, shape in inception.expected_shapes().items():
        leaf = name.rsplit("/", 1)[1]
        fan_in = int(np.prod(shape[:-1])) if leaf == "kernel" else 1
        flat[name] = (rng.standard_normal(shape) * np.sqrt(2 / fan_in) if leaf == "kernel"
                      else np.ones(shape) if leaf in ("scale", "var") else np.zeros(shape))
    return flax.traverse_util.unflatten_dict({k: v.astype(np.float32) for k, v in flat.items()},
                                             sep="/")


def test_sharded_features_equal_one_device(variables):
    assert jax.device_count() == 4  # tests/conftest.py
    images = np.random.default_rng(1).uniform(-1, 1, (7, 16, 16, 3)).astype(np.float32)
    sharded = inception.features_fn(variables, batch_size=1)(images)  # 2 steps of 4 devices.
    single = inception.features_fn(variables, batch_size=3, devices=jax.devices()[:1])(images)
    for ours, ref in zip(sharded, single):
        assert ours.shape == ref.shape and ours.shape[0] == 7
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5 * np.abs(ref).max())


def _fid64(fake, reference):
    """FID on the first 64 feature dimensions: a 2048² matrix square root takes ~15 s here."""
    return protocols.fid(fake[:, :64], {"mu": reference["mu"][:64],
                                        "sigma": reference["sigma"][:64, :64]})


def test_protocol_evaluation_caches_reference_statistics(variables, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    weights.save_npz(weights.flatten(variables), inception.default_weights_path())
    monkeypatch.setattr(inception, "features_fn",
                        functools.partial(inception.features_fn, batch_size=1))
    src, data_dir = tmp_path / "src", str(tmp_path / "tfds")
    src.mkdir()
    write_cifar(src, "cifar10", per_file=4)  # 20 train and 4 test images.
    trust(monkeypatch, cifar.CIFAR10, src)
    tiny = {"fid4_test": protocols.Protocol("fid", "test", 4, 4, "test"),
            "kid4_test": protocols.Protocol("kid", "test", 4, 4, "test"),
            "pr4_test": protocols.Protocol("pr", "test", 4, 4, "test"),
            "is4": protocols.Protocol("is", None, 0, 4, "test"),
            "fid5_test": protocols.Protocol("fid", "test", 5, 4, "test")}
    for name, protocol in tiny.items():
        fn = _fid64 if protocol.metric == "fid" else protocols.FUNCTIONS[protocol.metric]
        monkeypatch.setitem(metrics.METRICS._entries, name, metrics.Metric(
            fn, protocol.metric, "inception", int(protocol.metric == "is"), protocol))
    config = default.get_config()
    config.model.image_shape = (32, 32, 3)
    config.dataset.update(dict(name="cifar10", data_dir=data_dir))
    cifar.CIFAR10.prepare(data_dir, str(src))
    real = pipeline.load_split("cifar10", "test", (32, 32, 3), data_dir)["image"]
    names = ["fid4_test", "kid4_test", "pr4_test", "is4"]
    assert evaluate.num_generated(names, 3) == 4
    same = evaluate.image_metrics(config, real, names)
    assert set(same) == {"fid4_test", "kid4_test_mean", "kid4_test_std", "pr4_test_precision",
                         "pr4_test_recall", "is4_mean", "is4_std"}
    assert abs(same["fid4_test"]) < 1e-2 and same["pr4_test_precision"] == 1.0
    cached = list((tmp_path / "tfds" / "jgan_stats").glob("*.npz"))  # Beside the data.
    assert len(cached) == 1 and "cifar10-test-32x32x3-inception" in cached[0].name
    monkeypatch.setattr(evaluate, "_real_outputs", lambda *a: pytest.fail("not cached"))
    noise = np.random.default_rng(2).uniform(-1, 1, real.shape).astype(np.float32)
    assert evaluate.image_metrics(config, noise, ["fid4_test"])["fid4_test"] > 10 * abs(same["fid4_test"])
    with pytest.raises(ValueError, match=r"protocol fid4_test scores 4 generated images; got 3"):
        evaluate.image_metrics(config, noise[:3], ["fid4_test"])
    with pytest.raises(ValueError, match=r"protocol fid5_test takes 5 'test' images of cifar10; "
                                         r"that split has 4"):
        evaluate.image_metrics(config, noise, ["fid5_test"])
    record = evaluate.protocol_record(config, ["fid4_test", "kid_fmnist"])
    assert list(record) == ["fid4_test"] and record["fid4_test"]["real_split"] == "test"
    assert record["fid4_test"]["weights_sha256"] == inception.weights_hash()
