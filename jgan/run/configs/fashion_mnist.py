"""jgan's default main job: the seed DCGAN at half its width on Fashion-MNIST, 6 000 steps.

    jgan train --workdir runs/fmnist           # the default; or --config fashion_mnist

`seed_dcgan_fashion_mnist` (non-saturating loss, batch 64, Adam β = (0.5, 0.999), G-EMA from step
500) with G's learning rate 1e-3 and D's 5e-4, and every layer at half the channels (G 128, 64,
32; D 32, 64): a step takes under half as long, so 6 000 steps take about 8 minutes where 2 000
full-width ones took 7, and score far better (docs/results.md, "The default run"). Fashion-MNIST is prepared
on first use from Debian's `dataset-fashion-mnist`; the `fid_fmnist` classifier is trained on
first use (about 5 minutes here, once).
Expected, on a 2-core CPU with the machine to itself: 8 min 20 s of training (seed 0,
2026-12-05; peak RSS 0.91 GB). `eval/fid_fmnist` (2 000 samples, G-EMA) fell 103, 49, 39, 32, 29,
27 at steps 1 000–6 000 (seed 0); `jgan evaluate --metrics fid_fmnist --num 10000` gives 26 ± 2
over seeds 0–2 (the full-width model's 2 000 steps: 38 ± 3). `samples/step_006000.png` shows
tops of every kind, trousers, sneakers and ankle boots, dresses, a bag or two; on seed 0 six or
seven of the 64 cells are crumpled or speckled shapes of no class.
"""
from jgan.run.configs import seed_dcgan_fashion_mnist


def get_config():
    config = seed_dcgan_fashion_mnist.get_config()
    config.model.kwargs = dict(width=32)
    config.num_steps = 6000
    config.sample_every = 1000
    config.eval_every = 1000           # eval/fid_fmnist at every sample grid.
    config.checkpoint_every = 1000
    config.optimizer.g.learning_rate = 1e-3
    config.optimizer.d.learning_rate = 5e-4
    return config
