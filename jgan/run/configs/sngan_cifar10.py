"""SNGAN (Miyato et al. 2018) at 32×32 on CIFAR-10 with Mimicry's hyperparameters: for accelerators.

    jgan prepare inception [--source DIR]                     # once: the FID Inception weights
    jgan train --config sngan_cifar10 --workdir gs://BUCKET/runs/sngan \
        --config.dataset.data_dir=gs://BUCKET/tensorflow_datasets

Mimicry's SNGAN recipe (torch_mimicry's README and `examples/sngan_example.py`): the ResNet G and
D of `nets/sngan/sngan_32.py` (jgan's `sngan`, proven equal in tests/test_mimicry.py), hinge loss,
batch 64, Adam(2e-4, β = (0, 0.9)) for both players, n_dis = 5, 100 000 G steps, no G-EMA (Mimicry
scores G itself: `ema.decay = 0` makes jgan's EMA equal G). Target: Mimicry's CIFAR-10 FID of
16.77 (`fid50k_train`, Mimicry's protocol). Both learning rates decay linearly to 0 over the
run as Mimicry's `lr_decay="linear"` does (`schedule="linear"`; D's rate reaches G's at every G
step, falling within a step's 5 D updates where Mimicry holds it). Not measured on any
accelerator; impractical on a 2-core CPU (minutes per step at Mimicry's widths).
"""
from jgan.run.configs import default


def get_config():
    config = default.get_config()
    config.num_steps = 100_000
    config.batch_size = 64
    config.log_every = 100
    config.sample_every = 2000
    config.checkpoint_every = 2000
    config.eval_every = 10_000
    config.model.name = "sngan"
    config.model.z_dim = 128
    config.model.image_shape = (32, 32, 3)
    config.model.kwargs = dict(resolution=32, channels=3)
    config.loss.name = "hinge"
    config.loss.n_critic = 5
    for player in ("g", "d"):
        config.optimizer[player].update(dict(learning_rate=2e-4, b1=0.0, b2=0.9,
                                             schedule="linear"))
    config.ema.decay = 0.0
    config.dataset.name = "cifar10"
    config.eval.metrics = ("fid50k_train", "is50k")  # Protocols: jgan.metrics.protocols.
    return config
