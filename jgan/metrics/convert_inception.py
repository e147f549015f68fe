"""Convert the published PyTorch FID Inception weights to jgan's `.npz`.

    python -m jgan.metrics.convert_inception --torch pt_inception-2015-12-05-6726825d.pth \
        [--out ~/.cache/jgan/inception_fid.npz]

Takes pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` or torch-fidelity's
`weights-inception-2015-12-05-6726825d.pth` (the same tensor names). torch is imported only
here, to read the file; jgan itself never needs it.
"""
import argparse
import sys

import numpy as np

from jgan.metrics import inception, weights

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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torch", required=True, help="the PyTorch .pth state dict")
    parser.add_argument("--out", default=str(inception.default_weights_path()),
                        help="output .npz (default: %(default)s)")
    args = parser.parse_args(argv)
    import torch  # Only the conversion needs it.
    # A plain state dict of tensors loads with weights_only (no arbitrary unpickling).
    state_dict = torch.load(args.torch, map_location="cpu", weights_only=True)
    flat = convert_state_dict({k: v.detach().numpy() for k, v in state_dict.items()})
    weights.save_npz(flat, args.out)
    print(f"wrote {args.out} ({len(flat)} tensors, sha256 {inception.weights_hash(args.out)})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
