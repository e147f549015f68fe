"""mlp2d on the 25-Gaussian grid ({-4,-2,0,2,4}², std 0.05): ring2d's setup at a lower learning
rate (experiments/benchmarks/mode_collapse.py trains this config from 10 seeds).

    jgan train --config grid2d --workdir runs/grid && jgan evaluate --workdir runs/grid

Expected: 3 min 52 s on a 2-core CPU with the machine to itself, peak RSS 0.64 GB (2026-12-06);
`runs/grid/samples/step_008000.png` shows the samples (blue) in tight clusters on all 25 modes
(red rings), joined by trails along the grid lines and points scattered inside the squares:
measured 25/25 modes, 76.0 % high-quality samples, reverse KL 0.01 (seed 0; the benchmark's 10
seeds average 74.3 %: docs/results.md).
"""
from jgan.run.configs import ring2d


def get_config():
    config = ring2d.get_config()
    config.dataset.name = "grid"
    for player in ("g", "d"):  # At 1e-3 the grid's modes came out too wide (docs/results.md).
        config.optimizer[player].learning_rate = 3e-4
    return config
