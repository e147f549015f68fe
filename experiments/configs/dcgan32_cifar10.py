"""Radford DCGAN at 32×32×3 on CIFAR-10, hinge loss: a run for accelerators.

    python -m jgan.data.prepare ... (CIFAR-10 must be a prepared TFDS dataset in --config.dataset.data_dir)
    python experiments/train.py --config experiments/configs/dcgan32_cifar10.py --workdir runs/cifar \
        --config.dataset.data_dir=gs://BUCKET/tensorflow_datasets

Expected: on a TPU v4-8, 100k steps at batch 256 take on the order of an hour (see the README's
paper estimate); samples show colourful object-like blobs early and recognisable shapes later.
Not practical on a 2-core CPU.
"""
from experiments.configs import default


def get_config():
    config = default.get_config()
    config.num_steps = 100_000
    config.batch_size = 256
    config.log_every = 100
    config.sample_every = 2000
    config.checkpoint_every = 2000
    config.model.name = "dcgan"
    config.model.image_shape = (32, 32, 3)
    config.model.num_classes = 10
    config.model.kwargs = dict(resolution=32, channels=3, width=64, num_classes=10)
    config.loss.name = "hinge"
    config.dataset.name = "cifar10"
    return config
