"""The configs installed with jgan: `get_config()` files, found by name (`jgan train --config
ring2d:tiny`) or by path, with `--config.KEY=VALUE` overrides. Each one's docstring gives its
command, its time here and what to expect."""
import ast
import pathlib
import runpy

import ml_collections

DEFAULT = "fashion_mnist"
_DIR = pathlib.Path(__file__).parent
_NOT_RUNS = ("__init__", "default")  # default.py is the base every config starts from.


def names() -> list[str]:
    return sorted(p.stem for p in _DIR.glob("*.py") if p.stem not in _NOT_RUNS)


def path(name_or_path: str) -> str:
    """The file behind `--config`: a config name (with an optional `:variant`) or a path."""
    name, _, variant = name_or_path.partition(":")
    if name.endswith(".py") or "/" in name:
        if not pathlib.Path(name).is_file():
            raise FileNotFoundError(f"config file {name} does not exist")
        return name_or_path
    if name not in names():
        raise ValueError(f"unknown config {name!r}; expected a .py path or one of {names()}")
    return str(_DIR / f"{name}.py") + (f":{variant}" if variant else "")


def load(name_or_path: str, overrides=()) -> ml_collections.ConfigDict:
    """The config `name_or_path` names, with `overrides` ("--config.a.b=value" or
    "--config.a.b", "value") applied, locked (no new keys)."""
    file, _, variant = path(name_or_path).partition(":")
    config = runpy.run_path(file)["get_config"](*([variant] if variant else []))
    config.lock()
    for key, raw in _pairs(list(overrides)):
        _set(config, key, raw)
    return config


def _pairs(args: list) -> list[tuple[str, str]]:
    pairs = []
    while args:
        arg = args.pop(0)
        if not arg.startswith("--config."):
            raise ValueError(f"unexpected argument {arg!r}; expected --config.KEY=VALUE overrides")
        key, eq, raw = arg[len("--config."):].partition("=")
        if not eq:
            if not args:
                raise ValueError(f"--config.{key} needs a value")
            raw = args.pop(0)
        pairs.append((key, raw))
    return pairs


def _set(config, key: str, raw: str) -> None:
    """Sets `key` (dotted) to `raw`, parsed as a Python literal unless the field is a string."""
    names = key.split(".")
    node = config
    for i, name in enumerate(names):
        if not hasattr(node, "keys") or name not in node:
            valid = sorted(node.keys()) if hasattr(node, "keys") else []
            where = ".".join(names[:i]) or "the config"
            raise ValueError(f"unknown config key {name!r} in --config.{key}; valid keys of "
                             f"{where}: {valid}")
        if i < len(names) - 1:
            node = node[name]
    leaf = names[-1]
    current = node[leaf]
    value = raw if isinstance(current, str) else _literal(raw)
    try:
        node[leaf] = value
    except (TypeError, ValueError) as e:
        raise ValueError(f"--config.{key}={raw}: {str(e).splitlines()[0]}") from None


def _literal(raw: str):
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw  # A bare word: a string (`--config.dataset.name=cifar10`).
