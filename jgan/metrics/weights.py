"""Feature-network weights on disk: flat `.npz` files ("params/layer/kernel" -> array), checked.

Shared by the FID Inception and the Fashion-MNIST classifier: written reproducibly (so a file's
sha256 keys cached statistics), read back with a one-line error naming the first bad tensor.
"""
import hashlib
import os
import pathlib
import zipfile

import numpy as np
from flax import traverse_util


def cache_dir() -> pathlib.Path:
    """`$XDG_CACHE_HOME/jgan`, or `~/.cache/jgan` when the variable is unset."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(cache) / "jgan"


def flatten(variables: dict) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in traverse_util.flatten_dict(variables, sep="/").items()}


def shapes(variables: dict) -> dict[str, tuple]:
    """Flat name -> shape, for arrays or `jax.eval_shape` results."""
    return {k: tuple(v.shape) for k, v in traverse_util.flatten_dict(variables, sep="/").items()}


def check(flat: dict, expected: dict[str, tuple], source: str) -> None:
    """Raises ValueError naming the first missing or misshapen tensor, then any extra one."""
    for name, shape in expected.items():
        found = tuple(flat[name].shape) if name in flat else "missing"
        if found != tuple(shape):
            raise ValueError(f"{source}: tensor {name!r} expected shape {tuple(shape)}, found {found}")
    extra = sorted(set(flat) - set(expected))
    if extra:
        raise ValueError(f"{source}: unexpected tensor {extra[0]!r} ({len(extra)} in all); "
                         f"not the weights of this network")


def save_npz(flat: dict[str, np.ndarray], path) -> None:
    """Writes `flat` as an `.npz` byte-for-byte reproducibly, atomically.

    np.savez stamps each entry with the current time, so every save would get a new sha256 and
    invalidate the statistics cached under it; fixed dates avoid that.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for name in sorted(flat):
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(flat[name]), allow_pickle=False)
    os.replace(tmp, path)


def load_npz(path, expected: dict[str, tuple], missing: str) -> dict:
    """Variables (nested dict of float32 arrays) from `path`, checked against `expected` shapes.

    `missing` is the hint appended when the file does not exist (how to make it).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights not found at {path}; {missing}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            flat = {name: npz[name] for name in npz.files}
    except Exception as e:  # A truncated or foreign file: np.load's errors vary by format.
        raise ValueError(f"{path}: not a jgan weights .npz ({type(e).__name__}: {e})") from None
    check(flat, expected, str(path))
    return traverse_util.unflatten_dict({k: v.astype(np.float32) for k, v in flat.items()}, sep="/")


def file_hash(path) -> str:
    """sha256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
