"""Command-line entry points (absl flags); the logic lives in `jgan.train`."""
import pathlib
import runpy
import sys

from absl import app, flags, logging
from ml_collections import config_flags

_DEFAULT_CONFIG = pathlib.Path(__file__).parents[1] / "experiments/configs/seed_dcgan_fashion_mnist.py"
_CONFIG = config_flags.DEFINE_config_file(
    "config", str(_DEFAULT_CONFIG), "Training configuration file (get_config()).", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and samples.",
                               required=True)
_MULTIHOST = flags.DEFINE_bool("multihost", False, "Join a multi-process job "
                               "(jax.distributed.initialize; automatic on TPU VMs).")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "host:port of process 0 (multi-host "
                                   "outside TPU VMs).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Processes in the job.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index.")
_TIMEOUT = flags.DEFINE_integer("distributed_timeout", 120, "Seconds to wait for the coordinator.")


def train_main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}")
    if not flags.FLAGS["verbosity"].present:  # Orbax logs every save at INFO level.
        logging.set_verbosity(logging.WARNING)
    import jax  # noqa: PLC0415  (after flag parsing: keeps --help fast)

    from jgan import host, parallel, train  # noqa: PLC0415
    # Steps on the CPU run on this thread, whose malloc heap keeps a scratch of any size (jgan.host).
    # Read when JAX creates its CPU client, so before any use; accelerators' clients ignore it.
    jax.config.update("jax_cpu_enable_async_dispatch", False)
    if _MULTIHOST.value or _COORDINATOR.value:
        parallel.initialize_distributed(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value,
                                        _TIMEOUT.value)
    if jax.default_backend() == "cpu":  # XLA:CPU steps re-fault their scratch otherwise: jgan.host.
        host.keep_freed_memory()
    train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)


def parse_flags(argv):
    """absl's flag parsing, with a one-line error for a `--config.key` the config does not have."""
    try:
        return flags.FLAGS(argv)
    except (AttributeError, KeyError, flags.Error) as e:
        overrides = [a[len("--config."):].split("=")[0] for a in argv if a.startswith("--config.")]
        config = _load_config(argv)
        for path in overrides:
            node = config
            for i, key in enumerate(path.split(".")):
                if not hasattr(node, "keys") or key not in node:
                    valid = sorted(node.keys()) if hasattr(node, "keys") else []
                    where = ".".join(path.split(".")[:i]) or "the config"
                    sys.exit(f"error: unknown config key {key!r} in --config.{path}; "
                             f"valid keys of {where}: {valid}")
                node = node[key]
        sys.exit(f"error: {str(e).splitlines()[0]}")


def _load_config(argv):
    """The config that `--config` in `argv` names (for error messages)."""
    path = str(_DEFAULT_CONFIG)
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            path = arg[len("--config="):]
        elif arg == "--config" and i + 1 < len(argv):
            path = argv[i + 1]
    module = runpy.run_path(path.split(":")[0])
    return module["get_config"](*path.split(":")[1:])


def run_train():
    app.run(train_main, flags_parser=parse_flags)


def train():
    """`jgan-train`: like experiments/train.py; run it from the repository root."""
    sys.path.insert(0, str(pathlib.Path.cwd()))  # Configs import `experiments.configs.*`.
    run_train()
