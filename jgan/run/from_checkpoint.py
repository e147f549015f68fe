"""What `jgan sample` and `jgan evaluate` do with a checkpoint: only the generator is restored (no
dataset and no D to sample; the real split's cached features to evaluate)."""
import pathlib

import jax
import numpy as np

from jgan import data
from jgan.metrics import evaluate as evaluate_lib
from jgan.run import checkpoint, plots, writers
from jgan.sampling import generate


def sample(args) -> pathlib.Path:
    """Writes `args.num` samples to `args.out`: a .png grid of 8 columns (a scatter plot for 2-D
    models) or a .npz of `images` in [-1, 1] (and `labels`)."""
    out = pathlib.Path(args.out)
    if out.suffix not in (".png", ".npz"):
        raise ValueError(f"--out {out} must end in .png or .npz")
    G, variables, config = checkpoint.load_generator(args.workdir, args.step, ema=not args.no_ema)
    labels = _labels(args, config.model.get("num_classes"))
    images = np.asarray(generate(G.apply, variables, jax.random.key(args.seed), args.num,
                                 config.model.z_dim, labels))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        np.savez(out, images=images, **({} if labels is None else {"labels": labels}))
    else:
        picture = plots.scatter(images) if images.ndim == 2 else plots.image_grid(images, cols=8)
        out.write_bytes(writers.png_bytes(picture))
    return out


def evaluate(args) -> dict:
    """`args.metrics` (default: the run's, else modes / fid_fmnist) of a checkpoint's G."""
    G, g_vars, config = checkpoint.load_generator(args.workdir, args.step, ema=not args.no_ema)
    names = (args.metrics.split(",") if args.metrics else list(config.eval.metrics) or
             (["modes"] if config.dataset.name in data.pipeline.TOY_2D else ["fid_fmnist"]))
    return evaluate_lib.evaluate(config, G.apply, g_vars, names,
                                 args.num or config.eval.num_samples, args.seed)


def _labels(args, num_classes):
    if args.labels is None and args.class_ is None:
        return None
    if not num_classes:
        raise ValueError("--labels/--class given, but the checkpoint's model is not class-conditional")
    wanted = [args.class_] if args.class_ is not None else [int(x) for x in args.labels.split(",")]
    bad = [k for k in wanted if not 0 <= k < num_classes]
    if bad:
        raise ValueError(f"labels {bad} are outside the model's classes 0..{num_classes - 1}")
    return np.resize(np.array(wanted, np.int32), args.num)  # Cycled to --num samples.
