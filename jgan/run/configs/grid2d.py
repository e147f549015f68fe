"""mlp2d on the 25-Gaussian grid ({-4,-2,0,2,4}², std 0.05).

    jgan train --config grid2d --workdir runs/grid && jgan evaluate --workdir runs/grid

Expected: at most about 4 minutes on a 2-core CPU (3 min 31 s measured on 2026-12-03 while three
other jobs shared the cores); `runs/grid/samples/step_010000.png` shows the samples (blue) over
the 25 modes (red rings), joined by trails along the grid lines: measured 21/25 modes, 71.1 %
high-quality samples, reverse KL 0.28 (seed 0); four modes on the edge get no high-quality sample.
"""
from jgan.run.configs import ring2d


def get_config():
    config = ring2d.get_config()
    config.num_steps = 10_000
    config.dataset.name = "grid"
    return config
