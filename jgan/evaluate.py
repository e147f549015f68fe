"""Evaluation of generators: in the training loop (`eval_every`) and on checkpoints.

    python -m jgan.evaluate --workdir runs/fmnist --metrics fid_fmnist,kid_fmnist [--num 10000]
    python -m jgan.evaluate --workdir runs/ring [--metrics modes] [--num 2500]

2-D data: `modes` (the PacGAN protocol). Images: `fid`, `kid`, `is`, `pr`, `dc` on the FID
Inception's features (weights converted once, see `jgan.metrics.inception`), and `fid_fmnist`,
`kid_fmnist`, `pr_fmnist`, `dc_fmnist` on the Fashion-MNIST classifier's
(`python -m jgan.metrics.classifier`). Real-data features are computed once per dataset, split,
image shape, count and feature-network weights (their sha256) and cached on disk.
"""
import argparse
import json
import sys

import jax
import numpy as np

from jgan import checkpoint, data, metrics
from jgan.metrics import classifier, inception, weights
from jgan.sample import generate

_TOY_METRICS = ("modes",)
# Image metric -> (feature network, which output, the registered metric on those features).
_IMAGE_METRICS = {
    "fid": ("inception", 0, "fid"), "kid": ("inception", 0, "kid"), "pr": ("inception", 0, "pr"),
    "dc": ("inception", 0, "dc"), "is": ("inception", 1, "is"),
    "fid_fmnist": ("fmnist", 0, "fid"), "kid_fmnist": ("fmnist", 0, "kid"),
    "pr_fmnist": ("fmnist", 0, "pr"), "dc_fmnist": ("fmnist", 0, "dc"),
}
_NETWORKS = {"inception": inception, "fmnist": classifier}
_CHUNK = 500  # Images generated per call: bounds the memory of a 10 000-sample evaluation.


def check_metrics(config, names) -> None:
    """Fails fast (before any training) on unknown metrics or missing feature-network weights."""
    _check_names(config, names)
    if config.dataset.name not in data.pipeline.TOY_2D:
        for network in {_IMAGE_METRICS[n][0] for n in names}:
            _NETWORKS[network].load_params()  # Missing/wrong weights: the error says how to make them.


def _check_names(config, names) -> None:
    toy = config.dataset.name in data.pipeline.TOY_2D
    valid = _TOY_METRICS if toy else tuple(_IMAGE_METRICS)
    bad = [n for n in names if n not in valid]
    if bad:
        kind = "2-D" if toy else "image"
        raise ValueError(f"metrics {bad} do not apply to {kind} data; expected some of {list(valid)}")


def evaluate(config, apply_fn, g_vars, names, num: int, seed: int = 0) -> dict:
    """Runs metrics `names` on `num` samples of G (fixed z from `seed`) for `config`'s dataset."""
    _check_names(config, names)  # Before generating; the weights are checked as they are loaded.
    key = jax.random.key(seed)
    if config.dataset.name in data.pipeline.TOY_2D:
        samples = np.asarray(generate(apply_fn, g_vars, key, num, config.model.z_dim))
        centres, std = data.toy2d.modes(config.dataset.name)
        return {k: v for n in names for k, v in
                metrics.get(n)(samples, None, centres=centres, std=std).items()}
    fake = _generate_images(config, apply_fn, g_vars, key, num)
    return image_metrics(config, fake, names)


def image_metrics(config, fake_images, names) -> dict:
    """Metrics `names` of images [N, H, W, C] in [-1, 1] against `config`'s real data."""
    _check_names(config, names)
    results, features = {}, {}
    for name in names:
        network, output, base = _IMAGE_METRICS[name]
        if network not in features:  # Each network's weights are read and hashed once.
            module = _NETWORKS[network]
            params = module.load_params()
            digest = weights.file_hash(module.default_weights_path())
            features_fn = module.features_fn(params)
            features[network] = (features_fn(fake_images),
                                 _real_features(config, network, features_fn, digest))
        fake, real = (f[output] for f in features[network])
        for key, value in metrics.get(base)(fake, real).items():
            results[key.replace(base, name, 1) if key.startswith(base) else f"{name}_{key}"] = value
    return results


def _real_features(config, network: str, features_fn, digest: str) -> tuple[np.ndarray, np.ndarray]:
    """(features, logits) of the first `config.eval.num_real` images of the reference split,
    cached under the feature network's weights hash `digest`."""
    num = config.eval.get("num_real", 10_000)
    ds, shape = config.dataset, tuple(config.model.image_shape)
    source = ds.path if ds.name == "folder" else f"{ds.name}-{_split(config)}"
    tag = "-".join([source.replace("/", "_").strip("_"), "x".join(map(str, shape)), network,
                    digest[:16], f"n{num}"])
    path = weights.cache_dir() / "stats" / f"{tag}.npz"
    if path.is_file():
        with np.load(path) as f:
            return f["features"], f["logits"]
    images = _real_images(config, num)
    feats, logits = features_fn(images)
    weights.save_npz({"features": feats, "logits": logits}, path)  # Atomic: a run may be killed.
    return feats, logits


def _real_images(config, num: int) -> np.ndarray:
    ds, shape = config.dataset, tuple(config.model.image_shape)
    if ds.name == "folder":
        source = data.folder.ImageFolder(ds.path)
        examples = [data.preprocess(source[i], image_shape=shape)
                    for i in range(min(num, len(source)))]
        return np.stack([e["image"] for e in examples])
    if ds.name == "fashion_mnist":
        data.ensure_prepared("fashion_mnist", ds.data_dir, ds.source)
    return data.pipeline.load_split(ds.name, _split(config), shape, ds.data_dir, num)["image"]


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--metrics", help="comma-separated names (default: the run's "
                                          "config.eval.metrics, else modes / fid_fmnist)")
    parser.add_argument("--num", type=int, help="samples to draw (default: config.eval.num_samples)")
    parser.add_argument("--step", type=int, help="checkpoint step (default: the latest)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ema", action="store_true")
    args = parser.parse_args(argv)
    try:
        G, g_vars, config = checkpoint.load_generator(args.workdir, args.step, ema=not args.no_ema)
        names = (args.metrics.split(",") if args.metrics else list(config.eval.metrics) or
                 (["modes"] if config.dataset.name in data.pipeline.TOY_2D else ["fid_fmnist"]))
        results = evaluate(config, G.apply, g_vars, names, args.num or config.eval.num_samples,
                           args.seed)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
