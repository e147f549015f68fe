"""What `jgan sample` and `jgan evaluate` do with a checkpoint: only the generator is restored (no
dataset and no D to sample; the real split's cached features to evaluate)."""
import math
import pathlib

import jax
import numpy as np

from jgan import data, sampling
from jgan.metrics import evaluate as evaluate_lib
from jgan.run import checkpoint, plots, writers


def sample(args) -> pathlib.Path:
    """Writes a picture or arrays to `args.out`: `args.num` samples as a .png grid (one class per
    row for a conditional G; a scatter plot for 2-D models) or a .npz of `images` in [-1, 1] (and
    `labels`); `--interpolate` strips, a `--class_grid`, or (`--gif`) the run's sample grids."""
    if args.gif:
        if args.out and pathlib.Path(args.out).suffix != ".gif":
            raise ValueError(f"--out {args.out} must end in .gif with --gif")
        return plots.gif(plots.sample_pngs(args.workdir),
                         args.out or pathlib.Path(args.workdir) / "samples.gif")
    if args.out is None:
        raise ValueError("--out is required (a .png or .npz path), except with --gif")
    out = pathlib.Path(args.out)
    if out.suffix not in (".png", ".npz"):
        raise ValueError(f"--out {out} must end in .png or .npz")
    G, variables, config = checkpoint.load_generator(args.workdir, args.step, ema=not args.no_ema)
    z_BxZ, labels, cols = _latents(args, config.model.z_dim, config.model.get("num_classes"))
    images = np.asarray(sampling.decode(G.apply, variables, z_BxZ, labels))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        np.savez(out, images=images, **({} if labels is None else {"labels": labels}))
    else:
        picture = plots.scatter(images) if images.ndim == 2 else plots.image_grid(images, cols=cols)
        out.write_bytes(writers.png_bytes(picture))
    return out


def _latents(args, z_dim: int, num_classes):
    """(z [N, Z], labels [N] or None, grid columns) for the picture `args` asks for; a
    conditional G draws `--labels`/`--class` cycled, else one class per row."""
    key, wanted = jax.random.key(args.seed), _wanted_classes(args, num_classes)
    if args.class_grid:
        if not num_classes:
            raise ValueError("--class_grid needs a class-conditional model; this checkpoint's "
                             "model has none")
        z_BxZ, labels = sampling.class_seed_grid(key, num_classes, args.class_grid, z_dim)
        return z_BxZ, labels, args.class_grid
    if args.interpolate:
        rows, cols = args.interpolate, args.frames
        z_BxZ = sampling.interpolation_z(key, rows, cols, z_dim)
    else:
        rows, cols = None, 8
        if num_classes and wanted is None:  # One class per row, every class.
            rows, cols = num_classes, math.ceil(args.num / num_classes)
        z_BxZ = jax.random.normal(key, (rows * cols if rows else args.num, z_dim))
    if not num_classes:
        return z_BxZ, None, cols
    if rows is None:  # Given classes, cycled over the samples.
        return z_BxZ, np.resize(np.array(wanted, np.int32), len(z_BxZ)), cols
    row_classes = np.resize(np.array(wanted or range(num_classes), np.int32), rows)
    return z_BxZ, np.repeat(row_classes, cols), cols


def evaluate(args) -> dict:
    """`args.metrics` (default: the run's, else modes / fid_fmnist) of a checkpoint's G."""
    G, g_vars, config = checkpoint.load_generator(args.workdir, args.step, ema=not args.no_ema)
    names = (args.metrics.split(",") if args.metrics else list(config.eval.metrics) or
             (["modes"] if config.dataset.name in data.pipeline.TOY_2D else ["fid_fmnist"]))
    return evaluate_lib.evaluate(config, G.apply, g_vars, names,
                                 args.num or config.eval.num_samples, args.seed)


def _wanted_classes(args, num_classes):
    """The classes of `--labels`/`--class`, checked; None if neither is given."""
    if args.labels is None and args.class_ is None:
        return None
    if not num_classes:
        raise ValueError("--labels/--class given, but the checkpoint's model is not class-conditional")
    wanted = [args.class_] if args.class_ is not None else [int(x) for x in args.labels.split(",")]
    bad = [k for k in wanted if not 0 <= k < num_classes]
    if bad:
        raise ValueError(f"labels {bad} are outside the model's classes 0..{num_classes - 1}")
    return wanted
