"""The seed DCGAN on Fashion-MNIST: jgan's default main job.

    python experiments/train.py --config experiments/configs/seed_dcgan_fashion_mnist.py \
        --workdir runs/fmnist

(or just `python experiments/train.py --workdir runs/fmnist`). Fashion-MNIST is prepared on first
use from Debian's `dataset-fashion-mnist` (`apt-get install dataset-fashion-mnist`).
Expected: about 7 minutes on a 2-core CPU with the machine to itself (a fresh clone took 6 min 33 s
for the 2000 steps, 5.3–5.5 steps/s at batch 64, peak resident set 1.1 GB). The fixed-z grids in
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
    return config
