"""mlp2d on the 25-Gaussian grid ({-4,-2,0,2,4}², std 0.05).

    python experiments/train.py --config experiments/configs/grid2d.py --workdir runs/grid

Expected: about 6 minutes on a 2-core CPU (twice the ring run's length; not yet measured);
`runs/grid/samples/step_010000.png` shows the samples (blue) over the 25 modes (red rings).
"""
from experiments.configs import ring2d


def get_config():
    config = ring2d.get_config()
    config.num_steps = 10_000
    config.dataset.name = "grid"
    return config
