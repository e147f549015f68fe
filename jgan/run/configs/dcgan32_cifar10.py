"""Radford DCGAN at 32×32×3 on CIFAR-10, class-conditional, hinge loss: a run for accelerators.

    jgan prepare inception [--source DIR]                     # once: the FID Inception weights
    jgan train --config dcgan32_cifar10 --workdir gs://BUCKET/runs/cifar \
        --config.dataset.data_dir=gs://BUCKET/tensorflow_datasets

CIFAR-10 is prepared on first use (`jgan prepare cifar10`, from `--config.dataset.source=DIR`
holding `cifar-10-binary.tar.gz`, or downloaded where the network allows). Evaluation protocol:
`fid50k_train` and `is50k` every 10 000 steps — Mimicry's: 50 000 samples of the G-EMA against
the 50 000 training images, whose Inception statistics are computed once and cached in
`<data_dir>/jgan_stats` — so the numbers compare with published CIFAR-10 ones. Not measured on any
accelerator; docs/tpu.md gives the recipe and an unmeasured paper estimate of its speed. Not
practical on a 2-core CPU.
"""
from jgan.run.configs import default


def get_config():
    config = default.get_config()
    config.num_steps = 100_000
    config.batch_size = 256
    config.log_every = 100
    config.sample_every = 2000
    config.checkpoint_every = 2000
    config.eval_every = 10_000
    config.model.name = "dcgan"
    config.model.image_shape = (32, 32, 3)
    config.model.num_classes = 10
    config.model.kwargs = dict(resolution=32, channels=3, width=64, num_classes=10)
    config.loss.name = "hinge"
    config.dataset.name = "cifar10"
    config.eval.metrics = ("fid50k_train", "is50k")  # Protocols: jgan.metrics.protocols.
    return config
