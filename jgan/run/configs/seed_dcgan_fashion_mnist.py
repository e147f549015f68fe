"""The seed DCGAN on Fashion-MNIST: jgan's default main job.

    jgan train --config seed_dcgan_fashion_mnist --workdir runs/fmnist

(or just `jgan train --workdir runs/fmnist`: it is the default). Fashion-MNIST is prepared on first
use from Debian's `dataset-fashion-mnist` (`apt-get install dataset-fashion-mnist`).
Expected: about 7 minutes on a 2-core CPU with the machine to itself (measured before the
restructuring of 2026-12-02: docs/results.md). The fixed-z grids in
`runs/fmnist/samples/` show shirt and pullover silhouettes by step 500, and at
`step_002000.png` recognisable garments: long-sleeved tops, shirts, dresses, trousers, ankle
boots — blurry at the edges, as the tutorial model is at this length.
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
