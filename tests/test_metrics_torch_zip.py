"""jgan's PyTorch checkpoint reader (no torch, nothing unpickled but tensors) against `torch.load`,
and `jgan prepare inception` with it: the published file's hash checked, the weights converted."""
import collections
import dataclasses
import pickle
import zipfile

import numpy as np
import pytest

from jgan.metrics import convert_inception, inception, torch_zip, weights
from jgan.run import cli


def _zip_with_pickle(path, payload: bytes) -> None:
    """A zip laid out as torch.save lays it out, holding the pickle `payload`."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/version", "3\n")


class _Evil:
    """Pickles as a call of os.system: what a crafted checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os  # noqa: PLC0415
        return os.system, (f"touch {self.marker}",)


def test_crafted_pickles_are_refused_without_running_anything(tmp_path):
    marker = tmp_path / "ran"
    evil = pickle.dumps(collections.OrderedDict(w=_Evil(marker)), protocol=2)
    _zip_with_pickle(tmp_path / "evil.pth", evil)
    (tmp_path / "evil_legacy.pth").write_bytes(pickle.dumps(_Evil(marker), protocol=2))
    for name in ("evil.pth", "evil_legacy.pth"):
        with pytest.raises(ValueError) as error:
            torch_zip.load(tmp_path / name)
        message = str(error.value)
        assert "\n" not in message, message
        assert "refused to unpickle posix.system" in message or "os.system" in message, message
    assert not marker.exists()
    _zip_with_pickle(tmp_path / "list.pth", pickle.dumps([1, 2], protocol=2))
    with pytest.raises(ValueError, match="holds a list, not a state dict of tensors"):
        torch_zip.load_state_dict(tmp_path / "list.pth")
    (tmp_path / "junk.pth").write_bytes(b"\x80\x02K\x05.")
    with pytest.raises(ValueError, match="not a PyTorch checkpoint .*no legacy magic number"):
        torch_zip.load(tmp_path / "junk.pth")


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="comparing with torch.load needs PyTorch")


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_reader_equals_torch_load(torch, tmp_path, legacy):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state = collections.OrderedDict(
        weight=torch.randn(3, 4, 5, 5), bias=torch.randn(3).double(), steps=torch.tensor(7),
        view=base[1:, ::2], transposed=base.t(), shared=base, half=torch.randn(4).half(),
        bf16=torch.randn(4).bfloat16(), ints=torch.arange(-3, 3, dtype=torch.int32),
        flags=torch.tensor([True, False]), empty=torch.zeros(0, 3),
        param=torch.nn.Parameter(torch.randn(2, 2)))
    path = tmp_path / "state.pth"
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    reference = torch.load(path, map_location="cpu", weights_only=True)
    ours = torch_zip.load_state_dict(path)
    assert list(ours) == list(reference)
    for name, tensor in reference.items():
        tensor = tensor.detach()
        expected = tensor.float().numpy() if tensor.dtype == torch.bfloat16 else tensor.numpy()
        got = ours[name].astype(np.float32) if tensor.dtype == torch.bfloat16 else ours[name]
        assert got.dtype == expected.dtype and got.shape == expected.shape, name
        np.testing.assert_array_equal(got, expected, err_msg=name)
    assert ours["shared"].flags.owndata and ours["view"].flags.writeable
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=f"{path}: not a PyTorch checkpoint"):
        torch_zip.load(path)


def _random_fid_inception(torch, path) -> dict:
    """A random state dict with the FID Inception's PyTorch names and layouts, saved by torch;
    returns the flat Flax arrays it must convert to."""
    rng = np.random.default_rng(0)
    flat, state = {}, collections.OrderedDict()
    for name, shape in inception.expected_shapes().items():
        collection, *path_, leaf = name.split("/")
        value = rng.standard_normal(shape).astype(np.float32)
        flat[name] = value
        torch_name = ".".join(path_) + "." + {
            "kernel": "weight", "scale": "weight", "bias": "bias", "mean": "running_mean",
            "var": "running_var"}[leaf]
        tensor = (value.transpose(3, 2, 0, 1) if leaf == "kernel" and value.ndim == 4
                  else value.T if leaf == "kernel" else value)
        state[torch_name] = torch.from_numpy(np.ascontiguousarray(tensor))
    torch.save(state, path)
    return flat


def test_prepare_inception_checks_the_published_hash_and_converts(torch, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    source = tmp_path / "src"
    source.mkdir()
    pth = source / inception.WEIGHTS_FILE
    flat = _random_fid_inception(torch, pth)
    argv = ["jgan", "prepare", "inception", "--source", str(source)]
    with pytest.raises(SystemExit, match=r"error: .* has SHA-256 [0-9a-f]{64}; expected 6726825d"):
        cli.main(argv)
    assert not inception.default_weights_path().exists()
    monkeypatch.setattr(convert_inception, "PUBLISHED", dataclasses.replace(
        convert_inception.PUBLISHED, sha256=convert_inception.sources.sha256(pth)))
    cli.main(argv)
    loaded = weights.flatten(inception.load_params())
    assert set(loaded) == set(flat)
    for name, value in flat.items():
        np.testing.assert_array_equal(loaded[name], value, err_msg=name)
    with pytest.raises(SystemExit, match="--data_dir .* does not apply to inception"):
        cli.main(argv + ["--data_dir", str(tmp_path)])
