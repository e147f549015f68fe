"""mlp2d on the 25-Gaussian grid ({-4,-2,0,2,4}², std 0.05): ring2d's setup at a lower learning
rate (experiments/benchmarks/mode_collapse.py trains this config from 10 seeds).

    jgan train --config grid2d --workdir runs/grid && jgan evaluate --workdir runs/grid

Expected: MEASURE
"""
from jgan.run.configs import ring2d


def get_config():
    config = ring2d.get_config()
    config.dataset.name = "grid"
    for player in ("g", "d"):  # At 1e-3 the grid's modes came out too wide (docs/results.md).
        config.optimizer[player].learning_rate = 3e-4
    return config
