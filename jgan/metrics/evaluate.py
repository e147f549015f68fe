"""Evaluation of generators, in the training loop (`eval_every`) and on checkpoints
(`jgan evaluate --workdir W --metrics fid50k_train,kid_fmnist`).

2-D data takes the metrics without a feature network (`modes`, the PacGAN protocol); images take
the others. Protocol metrics (`fid50k_train`, ...: `jgan.metrics.protocols`) fix their real split
and image counts; the others use `config.eval.split`, `num_real` and the `num` samples asked for.

Real-image features are computed once per dataset, split, image shape, count and feature-network
weights (their sha256) and cached in `stats_dir(config)`: `config.eval.stats_dir` if set, else
`<dataset.data_dir>/jgan_stats` beside a data_dir (a bucket included), else
`~/.cache/jgan/stats`. The FID Inception runs sharded over every device and process
(`inception.features_fn`): each process computes its share and the features are gathered once.
"""
import io
import math
import warnings

import jax
import numpy as np
from etils import epath

from jgan import data, metrics
from jgan.metrics import classifier, distribution, inception, weights
from jgan.sampling import generate

_NETWORKS = {"inception": inception, "fmnist": classifier}
_CHUNK = 500  # Images generated per call: bounds the memory of a 10 000-sample evaluation.
_COMPILED = {}  # (network, weights sha256, features_fn factory) -> the last features function.


def check_metrics(config, names) -> None:
    """Fails fast (before any training) on unknown metrics or missing feature-network weights."""
    _check_names(config, names)
    if config.dataset.name not in data.pipeline.TOY_2D:
        for network in {metrics.get(n).network for n in names}:
            if network == "fmnist" and config.dataset.name == "fashion_mnist":
                classifier.ensure_weights(config.dataset.data_dir)  # Its data is at hand.
            _NETWORKS[network].load_params()  # Missing/wrong weights: the error says how to make them.


def _check_names(config, names) -> None:
    toy = config.dataset.name in data.pipeline.TOY_2D
    valid = [n for n in metrics.names() if (metrics.get(n).network is None) == toy]
    bad = [n for n in names if n not in valid]
    if bad:
        kind = "2-D" if toy else "image"
        raise ValueError(f"metrics {bad} do not apply to {kind} data; expected some of {list(valid)}")


def num_generated(names, num: int) -> int:
    """Samples to draw: `num` for plain metrics, each protocol's own count for protocol metrics."""
    counts = [metrics.get(n).protocol.num_fake if metrics.get(n).protocol else num for n in names]
    return max(counts, default=num)


def evaluate(config, apply_fn, g_vars, names, num: int, seed: int = 0) -> dict:
    """Runs metrics `names` on samples of G (fixed z from `seed`) for `config`'s dataset: `num`
    samples, or as many as a protocol in `names` prescribes."""
    _check_names(config, names)  # Before generating; the weights are checked as they are loaded.
    key = jax.random.key(seed)
    if config.dataset.name in data.pipeline.TOY_2D:
        samples = np.asarray(generate(apply_fn, g_vars, key, num, config.model.z_dim))
        centres, std = data.toy2d.modes(config.dataset.name)
        return {k: v for n in names for k, v in
                metrics.get(n)(samples, centres=centres, std=std).items()}
    fake = _generate_images(config, apply_fn, g_vars, key, num_generated(names, num))
    return image_metrics(config, fake, names)


def protocol_record(config, names) -> dict:
    """{metric name: its protocol, dataset and weights} for the protocol metrics in `names`: what
    to write beside their numbers."""
    record = {}
    for name in names:
        protocol = metrics.get(name).protocol
        if protocol is not None:
            record[name] = {**protocol.describe(name), "dataset": config.dataset.name,
                            "image_shape": list(config.model.image_shape), "network": "inception",
                            "weights_sha256": inception.weights_hash()}
    return record


class _Network:
    """A feature network's weights, hash and compiled function, with the fake images' outputs."""

    def __init__(self, name: str, fake_images):
        module = _NETWORKS[name]
        self.name = name
        self.digest = weights.file_hash(module.default_weights_path())
        key = (name, self.digest, module.features_fn)
        if key not in _COMPILED:  # Compiled once per weights, reused by every evaluation.
            _COMPILED.clear()
            _COMPILED[key] = module.features_fn(module.load_params())
        self.features_fn = _COMPILED[key]
        self.fake = self.features(fake_images)
        self.real = None  # (features, logits) for plain metrics, read on first use.

    def features(self, images):
        """Outputs for `images` (identical on every process): each process computes a share."""
        if self.name != "inception" or jax.process_count() == 1:
            return self.features_fn(images)
        n, count = len(images), jax.process_count()
        per = math.ceil(n / count)
        share = np.asarray(images[jax.process_index() * per:][:per], np.float32)
        share = np.pad(share, ((0, per - len(share)),) + ((0, 0),) * 3)
        return tuple(out[:n] for out in self.features_fn(share))


def image_metrics(config, fake_images, names) -> dict:
    """Metrics `names` of images [N, H, W, C] in [-1, 1] against `config`'s real data."""
    _check_names(config, names)
    results, networks = {}, {}
    for name in names:
        metric = metrics.get(name)
        if metric.network not in networks:  # Each network's weights are read and hashed once.
            networks[metric.network] = _Network(metric.network, fake_images)
        net = networks[metric.network]
        fake = net.fake[metric.output]
        if metric.protocol is None:
            if net.real is None:
                net.real = _real_features(config, net)
            values = metric(fake, net.real[metric.output])
        else:
            values = metric(_take(fake, metric.protocol.num_fake, name), reference(config, name, net))
        results.update(_named(values, metric.base, name))
    return results


def _named(values: dict, base: str, name: str) -> dict:
    """A variant's result keys: fid -> fid50k_train, kid_mean -> kid_fmnist_mean, precision ->
    pr10k_test_precision; the base metric's keys unchanged."""
    if name == base:
        return dict(values)
    return {(name + key[len(base):] if key == base or key.startswith(base + "_")
             else f"{name}_{key}"): value for key, value in values.items()}


def _take(outputs, num: int, name: str):
    if len(outputs) < num:
        raise ValueError(f"protocol {name} scores {num} generated images; got {len(outputs)}")
    return outputs[:num]


def reference(config, name: str, net) -> dict:
    """The protocol's reference statistics {features, mu, sigma} from its real split; cached."""
    protocol = metrics.get(name).protocol
    if protocol.split is None:
        return {}
    path = _stats_path(config, net, protocol.split, protocol.num_real)
    cached = _load_stats(path)
    if cached is not None:
        return cached
    available = _split_size(config, protocol.split)
    if available < protocol.num_real:
        raise ValueError(f"protocol {name} takes {protocol.num_real} {protocol.split!r} images of "
                         f"{config.dataset.name}; that split has {available}")
    feats, _ = _real_outputs(config, net, protocol.split, protocol.num_real)
    mu, sigma = distribution.feature_stats(feats)
    stats = {"features": feats, "mu": mu, "sigma": sigma}
    _save_stats(path, stats)
    return stats


def _real_features(config, net) -> tuple[np.ndarray, np.ndarray]:
    """(features, logits) of the first `config.eval.num_real` images of `config.eval.split`."""
    split, num = _split(config), config.eval.get("num_real", 10_000)
    path = _stats_path(config, net, split, num)
    cached = _load_stats(path)
    if cached is not None:
        return cached["features"], cached["logits"]
    feats, logits = _real_outputs(config, net, split, num)
    _save_stats(path, {"features": feats, "logits": logits})
    return feats, logits


def _real_outputs(config, net, split: str, num: int):
    """The network's outputs for the first `num` real images; with several processes each
    reads and computes only its share."""
    num = min(num, _split_size(config, split))
    if net.name != "inception" or jax.process_count() == 1:
        return net.features_fn(_real_images(config, split, 0, num))
    per = math.ceil(num / jax.process_count())
    start = jax.process_index() * per
    share = _real_images(config, split, start, min(start + per, num))
    share = np.pad(share, ((0, per - len(share)),) + ((0, 0),) * 3)
    return tuple(out[:num] for out in net.features_fn(share))


def stats_dir(config) -> epath.Path:
    """Where reference statistics are cached (see the module's docstring)."""
    if config.eval.get("stats_dir"):
        return epath.Path(config.eval.stats_dir)
    if config.dataset.get("data_dir") and config.dataset.name != "folder":
        return epath.Path(config.dataset.data_dir) / "jgan_stats"
    return epath.Path(weights.cache_dir() / "stats")


def _stats_path(config, net, split: str, num: int) -> epath.Path:
    ds, shape = config.dataset, tuple(config.model.image_shape)
    source = ds.path if ds.name == "folder" else f"{ds.name}-{split}"
    fit = ["pad"] if ds.get("fit", "resize") == "pad" else []  # Resized statistics keep their name.
    tag = "-".join([source.replace("/", "_").strip("_"), "x".join(map(str, shape)), *fit,
                    net.name, net.digest[:16], f"n{num}"])
    return stats_dir(config) / f"{tag}.npz"


def _load_stats(path: epath.Path):
    """Cached statistics, or None (absent, or unreadable: computed again, with a warning)."""
    if not path.exists():
        return None
    try:
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except Exception as e:  # noqa: BLE001 — a truncated or foreign file: np.load's errors vary.
        warnings.warn(f"{path}: not a statistics .npz ({type(e).__name__}: "
                      f"{str(e).splitlines()[0] if str(e) else ''}); computing them again")
        return None


def _save_stats(path: epath.Path, arrays: dict) -> None:
    """Process 0 writes, atomically (a local rename; a bucket object is written whole)."""
    if jax.process_index() != 0:
        return
    if "://" not in str(path):
        weights.save_npz(arrays, path)
        return
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def _split_size(config, split: str) -> int:
    ds = config.dataset
    if ds.name == "folder":
        return len(data.folder.ImageFolder(ds.path))
    _ensure_prepared(config)
    return len(data.pipeline.tfds_source(ds.name, split, ds.data_dir))


def _real_images(config, split: str, start: int, stop: int) -> np.ndarray:
    ds, shape = config.dataset, tuple(config.model.image_shape)
    if ds.name == "folder":
        source = data.folder.ImageFolder(ds.path)
        examples = [data.preprocess(source[i], image_shape=shape, fit=ds.get("fit", "resize"))
                    for i in range(start, min(stop, len(source)))]
        return np.stack([e["image"] for e in examples])
    _ensure_prepared(config)
    return data.pipeline.load_split(ds.name, split, shape, ds.data_dir, stop - start, start,
                                    fit=ds.get("fit", "resize"))["image"]


def _ensure_prepared(config) -> None:
    ds = config.dataset
    if ds.name in data.prepare.DATASETS:
        data.ensure_prepared(ds.name, ds.data_dir, ds.get("source"))


def _split(config) -> str:
    return config.eval.get("split", None) or config.dataset.split


def _generate_images(config, apply_fn, g_vars, key, num: int) -> np.ndarray:
    """`num` images in chunks, from keys folded from `key`; conditional G cycles the classes."""
    gen = jax.jit(lambda v, k, l: generate(apply_fn, v, k, _CHUNK, config.model.z_dim, l))
    chunks = []
    for i, start in enumerate(range(0, num, _CHUNK)):
        labels = (np.arange(start, start + _CHUNK) % config.model.num_classes
                  if config.model.num_classes else None)
        chunks.append(gen(g_vars, jax.random.fold_in(key, i), labels))
    return np.concatenate([np.asarray(c) for c in chunks])[:num]
