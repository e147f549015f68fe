"""Convert the published PyTorch FID Inception weights to jgan's `.npz`, without PyTorch.

    jgan prepare inception [--source DIR]      # the published file, checked, then converted
    python -m jgan.metrics.convert_inception --torch FILE.pth [--out ~/.cache/jgan/inception_fid.npz]

`jgan prepare inception` takes pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` from
`--source DIR` (or downloads it where the network allows), checks its SHA-256 against the
published file's and writes `inception.default_weights_path()`. The module's command converts any
file with the same tensor names (torch-fidelity's copy, or random weights in tests) unchecked.
Both read the file with `jgan.metrics.torch_zip`, which unpickles nothing but tensors.
"""
import argparse
import pathlib
import sys
from typing import Optional

import numpy as np

from jgan.data import sources
from jgan.metrics import inception, torch_zip, weights

# The published file: its SHA-256 as a third party recorded it for torch-fidelity's copy (same
# name suffix); its first 8 hex digits are the "6726825d" in the name, torch.hub's convention
# for a file's hash. Not checked against the file here (no network); no size on record.
PUBLISHED = sources.Original(inception.WEIGHTS_FILE, inception.WEIGHTS_URL, None,
                             "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2")

# PyTorch BatchNorm name -> (Flax collection, Flax name).
_BN = {"weight": ("params", "scale"), "bias": ("params", "bias"),
       "running_mean": ("batch_stats", "mean"), "running_var": ("batch_stats", "var")}


def convert_state_dict(state_dict: dict) -> dict[str, np.ndarray]:
    """PyTorch names/layouts -> jgan's flat names ("params/Mixed_5b/branch1x1/conv/kernel").

    Convolutions OIHW -> HWIO, BatchNorm weight/bias/running stats -> scale/bias/mean/var, fc
    weight [out, in] -> kernel [in, out]. Checked against the Flax network's tree.
    """
    flat = {}
    for key, value in state_dict.items():
        value = np.asarray(value)
        *path, leaf = key.split(".")
        if leaf == "num_batches_tracked":
            continue  # Training-time counter; inference ignores it.
        if path and path[-1] == "conv" and leaf == "weight":
            flat["params/" + "/".join(path) + "/kernel"] = value.transpose(2, 3, 1, 0)
        elif path and path[-1] == "bn" and leaf in _BN:
            collection, name = _BN[leaf]
            flat[f"{collection}/" + "/".join(path) + f"/{name}"] = value
        elif path == ["fc"] and leaf in ("weight", "bias"):
            flat["params/fc/" + ("kernel" if leaf == "weight" else "bias")] = (
                value.T if leaf == "weight" else value)
        else:
            raise ValueError(f"unexpected tensor {key!r} {tuple(value.shape)}: "
                             f"not the FID Inception state dict")
    flat = {name: np.ascontiguousarray(value, np.float32) for name, value in flat.items()}
    weights.check(flat, inception.expected_shapes(), "converted state dict")
    return flat


def convert(pth, out) -> str:
    """Reads the PyTorch file `pth` (no torch), writes jgan's `.npz` to `out`; returns its sha256."""
    flat = convert_state_dict(torch_zip.load_state_dict(pth))
    weights.save_npz(flat, out)
    return inception.weights_hash(out)


def prepare(data_dir: Optional[str] = None, source: Optional[str] = None) -> str:
    """`jgan prepare inception`: the published file (from `source` or downloaded into jgan's
    cache), its size and SHA-256 checked, converted to `inception.default_weights_path()`."""
    if data_dir is not None:
        raise ValueError(f"--data_dir {data_dir} does not apply to inception: its weights go to "
                         f"{inception.default_weights_path()} ($XDG_CACHE_HOME/jgan)")
    download_dir = weights.cache_dir() / "downloads"
    (pth,) = sources.locate((PUBLISHED,), source, download_dir, "inception").values()
    out = inception.default_weights_path()
    convert(pth, out)
    return str(out)


def is_prepared(data_dir: Optional[str] = None) -> bool:
    return inception.default_weights_path().is_file()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torch", required=True, help="the PyTorch .pth state dict")
    parser.add_argument("--out", default=str(inception.default_weights_path()),
                        help="output .npz (default: %(default)s)")
    args = parser.parse_args(argv)
    digest = convert(pathlib.Path(args.torch), args.out)
    print(f"wrote {args.out} (sha256 {digest})", file=sys.stderr)


if __name__ == "__main__":
    main()
