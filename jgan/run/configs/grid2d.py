"""mlp2d on the 25-Gaussian grid ({-4,-2,0,2,4}², std 0.05): ring2d's setup at a lower learning
rate and 4× the batch (experiments/benchmarks/mode_collapse.py trains this config from 10 seeds).

    jgan train --config grid2d --workdir runs/grid && jgan evaluate --workdir runs/grid

Expected: 2 min 12 s on a 2-core CPU with a ring2d run sharing the cores, peak RSS 0.61 GB
(2026-12-05); `runs/grid/samples/step_008000.png` shows the samples (blue) in tight clusters on
all 25 modes (red rings), joined by trails along the grid lines and points scattered between
them: measured 25/25 modes, 65.1 % high-quality samples, reverse KL 0.02 (seed 0; the benchmark's
10 seeds average 74.3 %: docs/results.md).
"""
from jgan.run.configs import ring2d


def get_config():
    config = ring2d.get_config()
    config.dataset.name = "grid"
    # 1 024 packs a step: 74.3 ± 0.8 % high quality over 10 seeds against 61.4 ± 1.8 at 256 packs
    # (docs/results.md, "Mode collapse on 2-D mixtures").
    config.batch_size = 2048
    for player in ("g", "d"):  # At 1e-3 the grid's modes came out too wide (docs/results.md).
        config.optimizer[player].learning_rate = 3e-4
    return config
