"""mlp2d on the 8-Gaussian ring (radius 1, std 0.01): the mode-collapse toy problem.

    python experiments/train.py --config experiments/configs/ring2d.py --workdir runs/ring

Expected: MEASURED_BELOW on a 2-core CPU; `runs/ring/samples/step_005000.png` shows the samples
(blue) on all 8 modes (red rings).

`--config experiments/configs/ring2d.py:tiny` is a seconds-long variant for tests and smoke runs.
"""
from experiments.configs import default


def get_config(variant: str = ""):
    config = default.get_config()
    config.num_steps = 5000
    config.batch_size = 256
    config.log_every = 100
    config.sample_every = 1000
    config.checkpoint_every = 1000
    config.num_sample_images = 2500
    config.model.name = "mlp2d"
    config.model.z_dim = 2
    config.model.image_shape = (2,)
    config.model.kwargs = dict(g_hidden=400, d_hidden=200)
    for player in ("g", "d"):
        config.optimizer[player].learning_rate = 1e-3
        config.optimizer[player].b2 = 0.9
    config.ema.decay = 0.99
    config.dataset.name = "ring"
    if variant == "tiny":
        config.update(dict(num_steps=20, batch_size=64, log_every=5, sample_every=10,
                           checkpoint_every=10, num_sample_images=256))
        config.model.kwargs = dict(g_hidden=32, d_hidden=32)
    elif variant:
        raise ValueError(f"unknown ring2d variant {variant!r}; expected 'tiny' or none")
    return config
