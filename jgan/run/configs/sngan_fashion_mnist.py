"""SNGAN's ResNet G and D (`sngan`, narrowed) on Fashion-MNIST padded to 32×32: a run for 2 cores.

    jgan train --config sngan_fashion_mnist --workdir runs/sngan_fmnist
    jgan evaluate --workdir runs/sngan_fmnist --metrics fid_fmnist

Mimicry's 32-px nets with a quarter of D's and an eighth of G's width (ngf = ndf = 32), one
channel, the images centred on a 32×32 black canvas (`dataset.fit = "pad"`; fid_fmnist scores
the central 28×28), trained with Mimicry's SNGAN recipe — hinge loss, batch 64, Adam(2e-4,
β = (0, 0.9)), n_dis = 5, G scored itself (no EMA) — for 400 G steps (2 000 D steps, about two
epochs) instead of 100 000, at constant learning rates (Mimicry's linear decay is untried
here). (One D step per G step with Adam β = (0.5, 0.999), the SNGAN paper's setting C, was tried
first: at 1 500 steps D's logits for real and fake had merged, d_loss ≈ 2,
and G drew a handful of blob shapes.)

Expected (measured 2026-12-03 on this project's 2-core EPYC, shared with other jobs): 12–24
minutes (23 min 34 s with another training job alongside for 15 of them; its cGAN-PD twin took
12 min 11 s), 1.6 GB peak; fid_fmnist 153.8; `samples/step_000400.png` shows white garment-sized
blobs, a few with a collar notch or a sleeve, no recognisable class: the run shows the model
training end to end on 2 cores, far from converged (docs/results.md).
"""
from jgan.run.configs import sngan_cifar10


def get_config():
    config = sngan_cifar10.get_config()  # Mimicry's recipe; what follows is the 2-core scale.
    config.num_steps = 400
    config.log_every = 20
    config.sample_every = 100
    config.checkpoint_every = 100
    config.eval_every = 100            # eval/fid_fmnist at every sample grid.
    config.model.image_shape = (32, 32, 1)
    config.model.kwargs = dict(resolution=32, channels=1, ngf=32, ndf=32)
    config.dataset.name = "fashion_mnist"
    config.dataset.fit = "pad"
    config.eval.metrics = ("fid_fmnist",)
    for player in ("g", "d"):  # The rates the figures above were measured with.
        config.optimizer[player].schedule = "constant"
    config.eval.num_samples = 2000     # Cheap: the curve; `jgan evaluate --num 10000` scores.
    return config
