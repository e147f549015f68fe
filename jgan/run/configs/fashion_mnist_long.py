"""Fashion-MNIST's hour here: the full-width seed DCGAN for 16 000 steps, rates decayed to 0.

    jgan train --config fashion_mnist_long --workdir runs/fmnist_long
    jgan evaluate --workdir runs/fmnist_long --metrics fid_fmnist,kid_fmnist,pr_fmnist,dc_fmnist --num 10000

The full-width seed DCGAN (the default run's model until 2026-12-05), non-saturating loss, batch
64, Adam 1e-3 (G) / 5e-4 (D) at β = (0.5, 0.999) decayed linearly to 0, G-EMA from step 500; a sample grid, `eval/fid_fmnist` (2 000 samples) and a kept
checkpoint every 2 000 steps. Expected, on a 2-core CPU: 46 min 48 s (seed 0, 2026-12-04), peak
RSS 1.27 GB. `eval/fid_fmnist` fell 42, 28, 23, 19, 16, 15, 13, 12 at steps 2 000–16 000;
`jgan evaluate --num 10000` gives 12.7 for the G-EMA and 12.9 for the raw G (one seed). The last
grid shows tops with prints and stripes, sneakers, ankle and heeled boots, trousers, a dress, a
bag; six or seven cells are crumpled shapes. docs/results.md, "An hour's recipe".
"""
from jgan.run.configs import seed_dcgan_fashion_mnist


def get_config():
    config = seed_dcgan_fashion_mnist.get_config()
    config.optimizer.g.learning_rate = 1e-3
    config.optimizer.d.learning_rate = 5e-4
    config.num_steps = 16_000
    config.log_every = 100
    config.sample_every = 2000
    config.eval_every = 2000           # eval/fid_fmnist at every sample grid.
    config.checkpoint_every = 2000
    config.checkpoint.keep_every = 2000  # Every grid's G stays restorable: the curve can be sampled.
    # Decayed linearly to 0: 12.7 against 16.3 at constant rates (docs/results.md, "An hour's
    # recipe").
    for player in ("g", "d"):
        config.optimizer[player].schedule = "linear"
    return config
