"""What `jgan prepare NAME [--source DIR] [--data_dir DIR]` builds, without TensorFlow.

Datasets, written as the TFDS dataset of the same name (TFDS's version, features, splits and label
names), so `tfds.data_source(NAME, data_dir=DIR)` and jgan's pipeline read them:
- `cifar10`, `cifar100` from `cifar-10-binary.tar.gz` / `cifar-100-binary.tar.gz` (jgan.data.cifar);
- `mnist` from its four gzipped IDX files (jgan.data.mnist);
- `fashion_mnist` from its four IDX files or Debian's `dataset-fashion-mnist` (jgan.data.fashion_mnist);
- `celeb_a` from `img_align_celeba.zip` and its four text files (jgan.data.celeb_a).
The original files come from `--source DIR` or, where the network allows, are downloaded; either
way their published size and SHA-256 are checked first.

And `inception`: the FID Inception weights (the published PyTorch file, converted without PyTorch
into jgan's `.npz`; jgan.metrics.convert_inception).
"""
from typing import Optional

from jgan.data import celeb_a, cifar, fashion_mnist, mnist, tfds_write
from jgan.registry import Registry


class _InceptionWeights:
    """`jgan prepare inception`, imported on use (it needs JAX and Flax, datasets do not)."""

    @staticmethod
    def prepare(data_dir: Optional[str] = None, source: Optional[str] = None) -> str:
        from jgan.metrics import convert_inception  # noqa: PLC0415
        return convert_inception.prepare(data_dir, source)

    @staticmethod
    def is_prepared(data_dir: Optional[str] = None) -> bool:
        from jgan.metrics import convert_inception  # noqa: PLC0415
        return convert_inception.is_prepared(data_dir)


PREPARERS = Registry("dataset to prepare")  # name -> object with is_prepared() and prepare().
PREPARERS.register("fashion_mnist", fashion_mnist)
PREPARERS.register("mnist", mnist.MNIST)
PREPARERS.register("cifar10", cifar.CIFAR10)
PREPARERS.register("cifar100", cifar.CIFAR100)
PREPARERS.register("celeb_a", celeb_a.CELEB_A)
PREPARERS.register("inception", _InceptionWeights)
DATASETS = ("celeb_a", "cifar10", "cifar100", "fashion_mnist", "mnist")  # PREPARERS' datasets.


def ensure_prepared(name: str, data_dir: Optional[str] = None, source: Optional[str] = None) -> None:
    """Prepares `name` in `data_dir` unless it is there already.

    In a multi-process JAX job a bucket is written by process 0 alone (concurrent writers would
    delete each other's partial copies), a local disk by every process (each host has its own);
    every process then waits for all, so none reads before the dataset is complete.
    """
    import jax  # noqa: PLC0415 — only the multi-process case needs it; it is loaded by then.
    preparer = PREPARERS.get(name)
    processes = jax.process_count()
    one_writer = processes > 1 and not tfds_write.is_local(data_dir or "")
    if not preparer.is_prepared(data_dir) and not (one_writer and jax.process_index() != 0):
        print(f"jgan: preparing {name} in {data_dir or 'the TFDS data dir'} (once)", flush=True)
        preparer.prepare(data_dir, source)
    if processes > 1:
        from jax.experimental import multihost_utils  # noqa: PLC0415
        multihost_utils.sync_global_devices(f"jgan prepare {name}")


def prepare(name: str, data_dir: Optional[str] = None, source: Optional[str] = None):
    """Builds `name` in `data_dir` (reusing it if it is complete there); returns where."""
    return PREPARERS.get(name).prepare(data_dir, source)
