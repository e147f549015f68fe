"""The seed DCGAN on Fashion-MNIST: jgan's default main job.

    python experiments/train.py --config experiments/configs/seed_dcgan_fashion_mnist.py \
        --workdir runs/fmnist

(or just `python experiments/train.py --workdir runs/fmnist`). Fashion-MNIST is prepared on first
use from Debian's `dataset-fashion-mnist` (`apt-get install dataset-fashion-mnist`).
Expected: on a 2-core CPU, MEASURED_BELOW; `runs/fmnist/samples/step_002000.png` shows
recognisable garments (shirts, trousers, sneakers, bags) from the fixed z.
"""
from experiments.configs import default


def get_config():
    config = default.get_config()
    config.num_steps = 2000
    config.batch_size = 64
    config.ema.start = 500
    return config
