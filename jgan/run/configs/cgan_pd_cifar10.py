"""cGAN-PD (Miyato & Koyama 2018) at 32×32 on class-conditional CIFAR-10, Mimicry's recipe.

    jgan prepare inception [--source DIR]                     # once: the FID Inception weights
    jgan train --config cgan_pd_cifar10 --workdir gs://BUCKET/runs/cgan_pd \
        --config.dataset.data_dir=gs://BUCKET/tensorflow_datasets

`sngan_cifar10`'s hyperparameters (hinge, batch 64, Adam(2e-4, β = (0, 0.9)) decayed linearly
to 0, n_dis = 5, 100 000 G steps, G scored itself) with `nets/cgan_pd/cgan_pd_32.py`'s nets
(jgan's `cgan_pd`, proven equal in tests/test_mimicry.py). Target: Mimicry's CIFAR-10 FID of 10.84
(`fid50k_train`). Fake images are judged with the real batch's
labels (jgan's step), where Mimicry draws uniform random labels for them: on CIFAR-10's balanced
classes the same distribution. The sample grids show one class per row. Not measured on any
accelerator.
"""
from jgan.run.configs import sngan_cifar10


def get_config():
    config = sngan_cifar10.get_config()
    config.model.name = "cgan_pd"
    config.model.num_classes = 10
    config.model.kwargs = dict(num_classes=10, resolution=32, channels=3)
    config.num_sample_images = 100  # 10 × 10: one class per row.
    return config
