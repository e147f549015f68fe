"""Lucic et al. (2018)'s InfoGAN-style nets on Fashion-MNIST with the NS GAN loss: their setup.

    jgan prepare inception [--source DIR]                     # once: the FID Inception weights
    jgan train --config lucic_fashion_mnist --workdir runs/lucic_fmnist
    jgan evaluate --workdir runs/lucic_fmnist --metrics fid10k_test,fid_fmnist

`lucic_infogan` (28×28, BatchNorm in D, as compare_gan builds it), the non-saturating loss, z of
64, batch 64, Adam(2e-4, β = (0.5, 0.999)) for both players, one D step per G step, 20 epochs of
the 60 000 training images (18 750 steps), no G-EMA (compare_gan samples G itself). Switch the loss
(`--config.loss.name=wasserstein`, ...) to follow the paper's other rows. The paper's Table 2
F-MNIST FIDs (NS GAN 26.5, WGAN 21.5, ...) are the best of a 100-setting hyperparameter search
per loss, on Inception features: compare with `fid10k_test`, jgan's Inception protocol on the
test split, after checking the paper's sample counts; `fid_fmnist` compares only with jgan's own
runs. One run at one setting is not expected to reach the table's minimum. Not measured here yet.
"""
from jgan.run.configs import default


def get_config():
    config = default.get_config()
    config.num_steps = 18_750
    config.batch_size = 64
    config.log_every = 100
    config.sample_every = 2000
    config.checkpoint_every = 2000
    config.model.name = "lucic_infogan"
    config.model.z_dim = 64
    config.model.image_shape = (28, 28, 1)
    config.model.kwargs = dict(image_shape=(28, 28, 1))
    config.loss.name = "non_saturating"
    config.ema.decay = 0.0
    config.eval_every = 2000           # eval/fid_fmnist at every sample grid.
    config.eval.metrics = ("fid_fmnist",)
    config.eval.num_samples = 2000     # Cheap: the curve; `jgan evaluate --num 10000` scores.
    return config
