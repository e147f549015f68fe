"""The seed DCGAN on Fashion-MNIST with the DCGAN recipe (Adam 2e-4, β = (0.5, 0.999), for both).

    jgan train --config seed_dcgan_fashion_mnist --workdir runs/seed_dcgan_fmnist

The quality benchmark's setup (experiments/benchmarks/quality_vs_torch.py); the default main job,
`fashion_mnist`, is this config at higher learning rates. Fashion-MNIST is prepared on first
use from Debian's `dataset-fashion-mnist` (`apt-get install dataset-fashion-mnist`).
Expected, on a 2-core CPU with the machine to itself: about 7 minutes of training (6 min 30 s
to 7 min 14 s over seeds 0–2, 2026-12-04), after a one-time 5 minutes or so on a machine without
the `fid_fmnist` classifier's weights (it is trained on first use; 11 min 55 s in all from a fresh
clone: docs/results.md). `eval/fid_fmnist` (2 000 samples, G-EMA) fell 161, 124, 87, 60 at steps
500–2 000 (seed 0); `jgan evaluate --metrics fid_fmnist --num 10000` gives 59 ± 2 over seeds
0–2. `samples/step_002000.png` shows recognisable pullovers, long-sleeved tops, trousers,
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
    config.eval.num_samples = 2000     # Cheap: the curve; `jgan evaluate --num 10000` scores.
    return config
