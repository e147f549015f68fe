"""The seed DCGAN on Fashion-MNIST: jgan's default main job.

    jgan train --config seed_dcgan_fashion_mnist --workdir runs/fmnist

(or just `jgan train --workdir runs/fmnist`: it is the default). Fashion-MNIST is prepared on first
use from Debian's `dataset-fashion-mnist` (`apt-get install dataset-fashion-mnist`).
Expected, on a 2-core CPU with the machine to itself: about 7 minutes of training (6 min 43 s
measured on 2026-12-03), after a one-time 5 minutes or so on a machine without the `fid_fmnist`
classifier's weights (it is trained on first use; 11 min 55 s in all from a fresh clone:
docs/results.md). `eval/fid_fmnist` (2 000 samples, G-EMA) fell 161, 124, 87, 60 at steps 500–2 000.
`runs/fmnist/samples/step_002000.png` shows recognisable pullovers, long-sleeved tops, trousers,
sneakers and ankle boots, grainy and blurred at the edges, a few cells smeared.
"""
from jgan.run.configs import default


def get_config():
    config = default.get_config()
    config.num_steps = 2000
    config.batch_size = 64
    config.ema.start = 500
    config.eval_every = 500            # TensorBoard's eval/fid_fmnist curve, at every sample grid.
    config.eval.metrics = ("fid_fmnist",)
    config.eval.num_samples = 2000     # Cheap; above a 10 000-sample score (FID's small-N bias).
    return config
