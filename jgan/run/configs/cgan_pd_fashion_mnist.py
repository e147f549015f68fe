"""cGAN-PD (`cgan_pd`, narrowed) on class-conditional Fashion-MNIST padded to 32×32: for 2 cores.

    jgan train --config cgan_pd_fashion_mnist --workdir runs/cgan_pd_fmnist
    jgan evaluate --workdir runs/cgan_pd_fmnist --metrics fid_fmnist

`sngan_fashion_mnist`'s setup (ngf = ndf = 32; Mimicry's recipe: hinge, batch 64, Adam(2e-4,
β = (0, 0.9)), n_dis = 5; 400 G steps) with conditional BatchNorm in G and the projection head in
D, trained on the labels;
the sample grids are 10 × 10, one class per row (T-shirt/top, trouser, pullover, dress, coat,
sandal, shirt, sneaker, bag, ankle boot). fid_fmnist draws the classes in turn.

Expected (measured 2026-12-03 on this project's 2-core EPYC, shared with other jobs): about 12
minutes (12 min 11 s), 1.7 GB peak; fid_fmnist 143.8; `samples/step_000400.png` shows blobs
like sngan_fashion_mnist's, a little more varied, with no row yet looking like its class: far
from converged (docs/results.md).
"""
from jgan.run.configs import sngan_fashion_mnist


def get_config():
    config = sngan_fashion_mnist.get_config()
    config.model.name = "cgan_pd"
    config.model.num_classes = 10
    config.model.kwargs = dict(num_classes=10, resolution=32, channels=1, ngf=32, ndf=32)
    config.num_sample_images = 100
    return config
