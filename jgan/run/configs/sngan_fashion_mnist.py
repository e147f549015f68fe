"""SNGAN's ResNet G and D (`sngan`, narrowed) on Fashion-MNIST padded to 32×32: a run for 2 cores.

    jgan train --config sngan_fashion_mnist --workdir runs/sngan_fmnist
    jgan evaluate --workdir runs/sngan_fmnist --metrics fid_fmnist

Mimicry's 32-px nets with a quarter of D's and an eighth of G's width (ngf = ndf = 32), one
channel, the images centred on a 32×32 black canvas (`dataset.fit = "pad"`; fid_fmnist scores
the central 28×28). Hinge loss, batch 64, Adam(2e-4, β = (0.5, 0.999)) and one D step per G step:
setting C of Miyato et al. (2018, Table 1), under which SNGAN trained well, chosen over Mimicry's
n_dis = 5 to fit the run here. RESULTS (measured: docs/results.md).
"""
from jgan.run.configs import default


def get_config():
    config = default.get_config()
    config.num_steps = 1500
    config.batch_size = 64
    config.log_every = 50
    config.sample_every = 500
    config.checkpoint_every = 500
    config.model.name = "sngan"
    config.model.z_dim = 128
    config.model.image_shape = (32, 32, 1)
    config.model.kwargs = dict(resolution=32, channels=1, ngf=32, ndf=32)
    config.loss.name = "hinge"
    config.ema.start = 500
    config.dataset.fit = "pad"
    config.eval.metrics = ("fid_fmnist",)
    return config
