"""A Fashion-MNIST classifier whose penultimate features give an offline, in-domain FID.

    python -m jgan.metrics.classifier [--epochs 5] [--out ~/.cache/jgan/fmnist_classifier.npz]

trains it on the train split (deterministic: fixed seed and order), prints the test accuracy and
writes the weights to the cache. The FID Inception needs weights that cannot be fetched
everywhere; this network is regenerated from the data alone, so `fid_fmnist` / `kid_fmnist`
work on any machine with Fashion-MNIST. Its numbers are comparable only with other `_fmnist`
numbers (same weights file, keyed by its sha256), never with Inception FIDs.
"""
import argparse
import functools
import pathlib
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jgan.metrics import weights

IMAGE_SHAPE = (28, 28, 1)
NUM_FEATURES = 128
EPOCHS = 5


class Classifier(nn.Module):
    """Two conv/pool stages and a 128-unit layer whose ReLU outputs are the features."""
    num_classes: int = 10

    @nn.compact
    def __call__(self, x_BxHxWxC, *, train: bool = False):
        x = x_BxHxWxC
        for features in (32, 64):
            x = nn.relu(nn.Conv(features, (3, 3))(x))
            x = nn.max_pool(x, (2, 2), (2, 2))
        x = nn.Dropout(0.25, deterministic=not train)(x.reshape(x.shape[0], -1))
        features = nn.relu(nn.Dense(NUM_FEATURES)(x))
        logits = nn.Dense(self.num_classes)(nn.Dropout(0.25, deterministic=not train)(features))
        return features, logits


def default_weights_path() -> pathlib.Path:
    return weights.cache_dir() / "fmnist_classifier.npz"


def expected_shapes() -> dict[str, tuple]:
    variables = jax.eval_shape(Classifier().init, jax.random.key(0),
                               jax.ShapeDtypeStruct((1, *IMAGE_SHAPE), jnp.float32))
    return weights.shapes(variables)


def load_params(path=None) -> dict:
    path = pathlib.Path(path) if path is not None else default_weights_path()
    return weights.load_npz(path, expected_shapes(),
                            f"make them with: python -m jgan.metrics.classifier --out {path}")


def weights_hash(path=None) -> str:
    path = pathlib.Path(path) if path is not None else default_weights_path()
    load_params(path)  # A missing or wrong file fails here, with the command that makes it.
    return weights.file_hash(path)


def features_fn(params=None, batch_size: int = 500):
    """A function images [N, 28, 28, 1] in [-1, 1] -> (features [N, 128], logits [N, 10]);
    larger images are scored on their central 28×28 (`check_images`)."""
    variables = params if params is not None else load_params()
    forward = jax.jit(lambda v, x: Classifier().apply(v, x))

    def run(images):
        images = check_images(images)
        n = len(images)
        pad = -n % batch_size
        padded = np.concatenate([images, np.zeros((pad, *IMAGE_SHAPE), np.float32)])
        outputs = [forward(variables, padded[i:i + batch_size])
                   for i in range(0, len(padded), batch_size)]
        feats = np.concatenate([np.asarray(f) for f, _ in outputs] or [np.zeros((0, NUM_FEATURES))])
        logits = np.concatenate([np.asarray(l) for _, l in outputs] or [np.zeros((0, 10))])
        return feats[:n], logits[:n]

    return run


def check_images(images) -> np.ndarray:
    """Float [N, 28, 28, 1] in [-1, 1] as float32 numpy, or a one-line ValueError.

    Larger images give their central 28×28 (Fashion-MNIST padded to 32×32 is the original again).
    """
    images = np.asarray(images)
    height, width, channels = IMAGE_SHAPE
    if images.ndim != 4 or images.shape[1] < height or images.shape[2] < width \
            or images.shape[3] != channels:
        raise ValueError(f"the Fashion-MNIST classifier takes images [N, 28, 28, 1]; got shape "
                         f"{images.shape} (larger ones give their central 28×28)")
    top, left = (images.shape[1] - height) // 2, (images.shape[2] - width) // 2
    images = images[:, top:top + height, left:left + width]
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images must be floating point in [-1, 1]; got dtype {images.dtype}")
    if images.size and not (images.min() >= -1 - 1e-6 and images.max() <= 1 + 1e-6):
        raise ValueError(f"images must be in [-1, 1]; found min {images.min():.7g}, "
                         f"max {images.max():.7g}")
    return images.astype(np.float32)


def train(train_images, train_labels, *, epochs: int = EPOCHS, batch_size: int = 128, seed: int = 0):
    """Adam on cross-entropy, data order from `seed`; returns the variables."""
    model = Classifier()
    params = model.init(jax.random.key(seed), jnp.zeros((1, *IMAGE_SHAPE)))["params"]
    tx = optax.adam(1e-3)
    opt_state = tx.init(params)

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(params, opt_state, x, y, key):
        def loss_fn(params):
            _, logits = model.apply({"params": params}, x, train=True, rngs={"dropout": key})
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        grads = jax.grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    rng = np.random.default_rng(seed)
    steps_per_epoch = len(train_images) // batch_size
    for epoch in range(epochs):
        order = rng.permutation(len(train_images))
        for i in range(steps_per_epoch):
            idx = order[i * batch_size:(i + 1) * batch_size]
            key = jax.random.fold_in(jax.random.key(seed + 1), epoch * steps_per_epoch + i)
            params, opt_state = step(params, opt_state, train_images[idx], train_labels[idx], key)
    return {"params": params}


def accuracy(variables, images, labels) -> float:
    _, logits = features_fn(variables)(images)
    return float((logits.argmax(axis=1) == labels).mean())


def make_weights(out, *, epochs: int = EPOCHS, data_dir=None) -> float:
    """Trains on Fashion-MNIST's train split, writes the weights to `out`; returns the test
    accuracy."""
    from jgan.data import pipeline, prepare  # The data stack is only needed to train.
    prepare.ensure_prepared("fashion_mnist", data_dir)
    train_set = pipeline.load_split("fashion_mnist", "train", IMAGE_SHAPE, data_dir)
    test_set = pipeline.load_split("fashion_mnist", "test", IMAGE_SHAPE, data_dir)
    variables = train(train_set["image"], train_set["label"], epochs=epochs)
    weights.save_npz(weights.flatten(variables), out)
    return accuracy(variables, test_set["image"], test_set["label"])


def ensure_weights(data_dir=None) -> None:
    """Trains the default weights if they are missing: a Fashion-MNIST run that logs
    `fid_fmnist` makes them on first use, as it prepares its dataset."""
    path = default_weights_path()
    if path.exists():
        return
    print(f"jgan: training the Fashion-MNIST classifier for fid_fmnist, once "
          f"(python -m jgan.metrics.classifier; ~{EPOCHS} epochs, minutes on a CPU) -> {path}",
          flush=True)
    acc = make_weights(path, data_dir=data_dir)
    print(f"jgan: classifier test accuracy {acc:.4f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--out", default=str(default_weights_path()))
    parser.add_argument("--data_dir", help="TFDS data directory (default: TFDS's)")
    args = parser.parse_args(argv)
    try:
        acc = make_weights(args.out, epochs=args.epochs, data_dir=args.data_dir)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")
    print(f"test accuracy {acc:.4f}; wrote {args.out} (sha256 {weights.file_hash(args.out)[:16]})")


if __name__ == "__main__":
    main()
