"""Defaults every jgan config starts from; not a run of its own.

Every key here exists in every config, so `--config.key=value` overrides work everywhere.
"""
import ml_collections


def get_config():
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.num_steps = 10_000          # G updates.
    config.batch_size = 64             # Global batch: split across processes and devices.
    config.log_every = 50
    config.sample_every = 500
    config.checkpoint_every = 500
    config.eval_every = 0              # 0: no evaluation during training.

    config.model = ml_collections.ConfigDict()
    config.model.name = "seed_dcgan"
    config.model.z_dim = 100
    config.model.image_shape = (28, 28, 1)
    config.model.num_classes = ml_collections.FieldReference(None, field_type=int)
    config.model.kwargs = ml_collections.ConfigDict()   # Keyword arguments of jgan.models.get.
    # "float32" or "bfloat16": activations and convolutions in bf16, parameters, optimizer state,
    # BatchNorm statistics and losses in f32 (jgan.nn.precision).
    config.model.precision = "float32"

    config.loss = ml_collections.ConfigDict()
    config.loss.name = "non_saturating"
    config.loss.n_critic = 1
    config.loss.gp_weight = 0.0        # Shorthand for the regularizer {"name": "gp", "weight": w}.
    config.loss.r1_weight = 0.0        # Shorthand for {"name": "r1", "weight": γ, "every": ...}.
    config.loss.r1_every = 1
    # jgan.regularizers by name, each a dict: [{"name": "lecam", "weight": 0.3}, ...].
    config.loss.regularizers = ()
    config.loss.augment = ""           # A jgan.augment policy, e.g. "color,translation,cutout".

    config.optimizer = ml_collections.ConfigDict()
    for player in ("g", "d"):  # Per player: TTUR is two learning rates.
        config.optimizer[player] = ml_collections.ConfigDict(
            dict(name="adam", learning_rate=2e-4, b1=0.5, b2=0.999,
                 schedule="constant",  # jgan.optimizers.SCHEDULES: constant, linear, warmup_cosine
                 warmup_steps=0))      # G steps of warm-up (warmup_cosine).

    # G-EMA: its half-life is at most rampup × the steps so far (jgan.make_train_step).
    config.ema = ml_collections.ConfigDict(dict(decay=0.999, start=0, rampup=0.05))

    config.dataset = ml_collections.ConfigDict()
    config.dataset.name = "fashion_mnist"
    config.dataset.split = "train"
    config.dataset.data_dir = ml_collections.FieldReference(None, field_type=str)
    config.dataset.source = ml_collections.FieldReference(None, field_type=str)
    config.dataset.path = ml_collections.FieldReference(None, field_type=str)
    config.dataset.num_workers = 0
    config.dataset.fit = "resize"      # To image_shape: "resize", or "pad" (centred on zeros).

    config.parallel = ml_collections.ConfigDict()
    config.parallel.mode = "jit"       # "jit" (Mesh + NamedSharding) or "pmap".

    config.checkpoint = ml_collections.ConfigDict(dict(max_to_keep=3, keep_every=0))

    config.eval = ml_collections.ConfigDict()
    config.eval.metrics = ()           # Names from jgan.metrics.names(), every eval_every steps.
    config.eval.num_samples = 10_000   # Generated images per evaluation.
    config.eval.num_real = 10_000      # Real images (first of the split) for reference features.
    config.eval.split = "train"        # The split real features come from.
    config.num_sample_images = 64      # Size of the fixed-z sample grid.
    return config
