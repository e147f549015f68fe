"""The `jgan` command: `jgan train | sample | evaluate | prepare`, each with `--help`.

Thin: each command parses its flags and calls the library (`jgan.run.loop`, `jgan.run.sample`,
`jgan.metrics.evaluate`, `jgan.data.prepare`). A bad input ends in one line, `error: ...`.
"""
import argparse
import json
import os
import sys

from jgan.run import configs, preemption

_USAGE = """usage: jgan COMMAND [--help]

commands:
  train     train a GAN from a config:   jgan train --config ring2d --workdir runs/ring
  sample    draw from a checkpoint:      jgan sample --workdir runs/ring --out grid.png
            (--interpolate ROWS, --class_grid SEEDS; --gif: the run's grids as samples.gif)
  evaluate  score a checkpoint:          jgan evaluate --workdir runs/ring --metrics modes
  prepare   build a dataset offline:     jgan prepare fashion_mnist
"""
_ERRORS = (FileNotFoundError, ValueError, FloatingPointError, RuntimeError, OSError)
_COMMAND_LINE = {"owned": False}  # True while `main` runs as the process's own command.


def main(argv=None) -> None:
    """Runs a `jgan` command; `argv` None: this process's own command line, whose last line an
    error then is (see `_last_words`)."""
    _COMMAND_LINE["owned"] = argv is None
    argv = sys.argv if argv is None else argv
    commands = {"train": train, "sample": sample, "evaluate": evaluate, "prepare": prepare}
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(_USAGE)
        return
    if argv[1] not in commands:
        sys.exit(f"error: unknown command {argv[1]!r}; expected one of {sorted(commands)}")
    commands[argv[1]](argv[1:])


def train(argv) -> None:
    parser = _parser(argv[0], "Train a GAN from a config; `--config.KEY=VALUE` overrides a key.")
    parser.add_argument("--config", default=configs.DEFAULT,
                        help=f"a config name {configs.names()} (':variant' allowed) or a "
                             f"get_config() .py file (default: %(default)s)")
    parser.add_argument("--workdir", required=True, help="checkpoints, logs and samples")
    parser.add_argument("--allow_config_change", action="store_true",
                        help="resume even if the config differs from the checkpoint's in keys "
                             "that shape training (model, loss, optimizer, batch, data, seed)")
    parser.add_argument("--multihost", action="store_true", help="join a multi-process job "
                        "(jax.distributed.initialize; automatic on TPU VMs)")
    parser.add_argument("--coordinator_address", help="host:port of process 0 (outside TPU VMs)")
    parser.add_argument("--num_processes", type=int, help="processes in the job")
    parser.add_argument("--process_id", type=int, help="this process's index")
    parser.add_argument("--distributed_timeout", type=int, default=120,
                        help="seconds to wait for the coordinator")
    args, overrides = parser.parse_known_args(argv[1:])
    one_process = not (args.multihost or args.coordinator_address)  # Else JAX's notifier acts.
    if one_process:
        preemption.catch()  # A preemption notice during start-up and compilation is honoured too.
    try:
        config = _or_exit(lambda a: configs.load(a.config, overrides), args)
        from jgan.run import loop  # noqa: PLC0415 — after parsing: keeps --help and errors fast.
        _or_exit(lambda a: loop.run(config, a.workdir, allow_config_change=a.allow_config_change,
                                    multihost=a.multihost, coordinator=a.coordinator_address,
                                    num_processes=a.num_processes, process_id=a.process_id,
                                    timeout_s=a.distributed_timeout), args)
    finally:
        if one_process and _COMMAND_LINE["owned"]:
            preemption.ignore()  # The run has ended: its exit status stands.


def sample(argv) -> None:
    parser = _parser(argv[0], "Draw samples from a checkpoint, with no dataset and no D.")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--step", type=int, help="checkpoint step (default: the latest)")
    parser.add_argument("--num", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--labels", help="comma-separated classes, cycled to --num")
    group.add_argument("--class", dest="class_", type=int, help="one class for every sample")
    parser.add_argument("--no-ema", action="store_true", help="the raw G instead of its EMA")
    picture = parser.add_mutually_exclusive_group()
    picture.add_argument("--interpolate", type=_positive, metavar="ROWS",
                         help="ROWS strips of --frames images, each a spherical interpolation "
                              "between two fixed z (one class per strip if conditional)")
    picture.add_argument("--class_grid", type=_positive, metavar="SEEDS",
                         help="a class-conditional model's classes (rows) × SEEDS z (columns)")
    picture.add_argument("--gif", action="store_true",
                         help="the run's samples/step_*.png as one animation (default --out "
                              "WORKDIR/samples.gif); needs no checkpoint")
    parser.add_argument("--frames", type=_positive, default=8, help="images per --interpolate strip")
    parser.add_argument("--out", help="grid.png or samples.npz (required except with --gif)")
    args = parser.parse_args(argv[1:])
    from jgan.run import from_checkpoint  # noqa: PLC0415
    print(f"wrote {_or_exit(from_checkpoint.sample, args)}")


def evaluate(argv) -> None:
    parser = _parser(argv[0], "Score a checkpoint's generator (prints JSON).")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--metrics", help="comma-separated names (default: the run's "
                                          "config.eval.metrics, else modes / fid_fmnist)")
    parser.add_argument("--num", type=int, help="samples to draw (default: config.eval.num_samples)")
    parser.add_argument("--step", type=int, help="checkpoint step (default: the latest)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ema", action="store_true", help="the raw G instead of its EMA")
    args = parser.parse_args(argv[1:])
    from jgan.run import from_checkpoint  # noqa: PLC0415
    print(json.dumps(_or_exit(from_checkpoint.evaluate, args)))


def prepare(argv) -> None:
    from jgan.data import prepare as prepare_lib  # noqa: PLC0415
    parser = _parser(argv[0], "Build a dataset as the TFDS dataset of the same name, or the FID "
                              "Inception weights, without TensorFlow or PyTorch.")
    parser.add_argument("name", help=f"one of {prepare_lib.PREPARERS.names()}")
    parser.add_argument("--source", help="directory with the original (published) files; "
                                         "without it they are downloaded where the network allows")
    parser.add_argument("--data_dir", help="TFDS data directory, a local path or a bucket "
                                           "(default: TFDS's; not for inception)")
    args = parser.parse_args(argv[1:])
    path = _or_exit(lambda a: prepare_lib.prepare(a.name, a.data_dir, a.source), args)
    print(f"prepared {args.name} in {path}")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def _parser(command: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=f"jgan {command}", description=description)


def _or_exit(fn, args):
    try:
        return fn(args)
    except _ERRORS as e:
        message = f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        if _COMMAND_LINE["owned"]:
            _last_words(message)
        sys.exit(message)


def _last_words(message: str) -> None:
    """Mutes stderr, then writes `message` to where it went: the threads of a failed Orbax save
    may still report while the process shuts down, and not after the error that explains it."""
    sys.stdout.flush()
    sys.stderr.flush()
    stderr = os.dup(sys.stderr.fileno())
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())  # C++ threads write there too.
    os.write(stderr, f"{message}\n".encode())
