"""FID Inception: jgan's Flax network against torch-fidelity's, on identical random weights.

The reference network gets random weights (seeded) and BatchNorm statistics calibrated on a
batch and then perturbed, so every layer carries signal and any mismatch in layout, padding,
pooling or resizing shows up in the outputs. Its state dict goes through jgan's converter and
into the Flax network; both then see the same images.
"""
import hashlib
import importlib
import importlib.util
import sys
import types

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="the reference FID Inception (torch-fidelity) needs PyTorch to run")
if importlib.util.find_spec("torch_fidelity") is None:
    pytest.skip("the reference FID Inception needs torch-fidelity installed",
                allow_module_level=True)

import jax  # noqa: E402

from jgan.metrics import convert_inception, inception, weights  # noqa: E402
from jgan.metrics.distribution import feature_stats, frechet_distance  # noqa: E402

REL_TOL = 1e-4


def _reference_module(name: str):
    """A torch_fidelity submodule, without the package __init__ (it imports torchvision)."""
    if "torch_fidelity" not in sys.modules:
        package = types.ModuleType("torch_fidelity")
        package.__path__ = list(importlib.util.find_spec("torch_fidelity")
                                .submodule_search_locations)
        sys.modules["torch_fidelity"] = package
    return importlib.import_module(f"torch_fidelity.{name}")


def _rel_diff(ours, ref) -> float:
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    assert ours.shape == ref.shape
    return float(np.abs(ours - ref).max() / np.abs(ref).max())


def _random_state_dict(path, seed: int = 0) -> None:
    """Saves a random FID Inception state dict, built by the reference module itself."""
    ref = _reference_module("feature_extractor_inceptionv3")
    cls = ref.FeatureExtractorInceptionV3
    torch.manual_seed(seed)
    with pytest.MonkeyPatch.context() as mp:  # Keep the random init; never download.
        mp.setattr(ref, "load_state_dict_from_url", lambda *a, **k: {})
        mp.setattr(cls, "load_state_dict", lambda self, *a, **k: None)
        net = cls("inception-v3-compat", ["2048"])
    gen = torch.Generator().manual_seed(seed)
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        # Calibrate: one training-mode pass sets the running statistics to the batch's, so the
        # activations neither vanish nor explode through 90-odd layers...
        for bn in bns:
            bn.momentum = 1.0
        net.train()
        net((torch.rand(2, 3, 64, 64, generator=gen) * 255).to(torch.uint8))
        # ... then perturb everything, so a swapped or ignored tensor changes the outputs.
        for bn in bns:
            c = bn.num_features
            bn.running_mean += 0.3 * torch.randn(c, generator=gen) * bn.running_var.sqrt()
            bn.running_var *= 0.5 + 1.5 * torch.rand(c, generator=gen)
            bn.weight.copy_(0.5 + torch.rand(c, generator=gen))
            bn.bias.copy_(0.2 * torch.randn(c, generator=gen))
        net.fc.bias.copy_(torch.randn(1008, generator=gen))
    torch.save(net.state_dict(), path)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(reference network, converted .npz path, jgan variables), built once."""
    tmp = tmp_path_factory.mktemp("inception")
    pth, npz = tmp / "random_inception.pth", tmp / "inception_fid.npz"
    _random_state_dict(pth)
    # The reference loads the file through its own loader (as with the published weights).
    ref_cls = _reference_module("feature_extractor_inceptionv3").FeatureExtractorInceptionV3
    net = ref_cls("inception-v3-compat", ["2048", "logits_unbiased", "logits"],
                  feature_extractor_weights_path=str(pth))
    convert_inception.main(["--torch", str(pth), "--out", str(npz)])
    return net, npz, inception.load_params(npz)


def _images(shape, seed):
    """uint8 images for the reference and the same images in [-1, 1] for jgan."""
    u8 = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    return u8, u8.astype(np.float32) / 127.5 - 1.0


def _reference_outputs(net, u8):
    x = torch.from_numpy(u8).permute(0, 3, 1, 2)
    x = x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x  # The reference takes RGB only.
    with torch.inference_mode():
        return [o.numpy() for o in net(x.contiguous())]


@pytest.fixture(scope="module")
def rgb(setup):
    """8 RGB 32×32 images through the Flax module directly: (ours dict, reference list)."""
    net, _, variables = setup
    u8, x = _images((8, 32, 32, 3), seed=1)
    ours = jax.jit(inception.InceptionV3().apply)(variables, inception.preprocess(x))
    return {k: np.asarray(v) for k, v in ours.items()}, _reference_outputs(net, u8)


@pytest.fixture(scope="module")
def gray(setup):
    """8 gray 28×28 images through features_fn in batches of 5 (the last one padded)."""
    net, _, variables = setup
    u8, x = _images((8, 28, 28, 1), seed=2)
    return inception.features_fn(variables, batch_size=5)(x), _reference_outputs(net, u8)


@pytest.mark.parametrize("size", [(7, 5), (28, 28), (32, 47), (299, 299), (400, 333)])
def test_resize_matches_reference(size):
    resize = _reference_module("interpolate_compat_tensorflow")
    x = np.random.default_rng(0).uniform(0, 255, (2, *size, 3)).astype(np.float32)
    ref = resize.interpolate_bilinear_2d_like_tensorflow1x(
        torch.from_numpy(x).permute(0, 3, 1, 2), size=(299, 299), align_corners=False)
    ours = np.asarray(inception.resize_bilinear_tf1(x))
    np.testing.assert_allclose(ours, ref.permute(0, 2, 3, 1).numpy(), rtol=0, atol=1e-4)


def test_rgb_matches_reference(rgb):
    ours, (pool, logits_unbiased, logits) = rgb
    assert ours["pool"].shape == (8, 2048) and ours["logits"].shape == (8, 1008)
    diffs = {"pool": _rel_diff(ours["pool"], pool),
             "logits_unbiased": _rel_diff(ours["logits_unbiased"], logits_unbiased),
             "logits": _rel_diff(ours["logits"], logits)}
    print("rgb relative differences:", diffs)
    assert max(diffs.values()) <= REL_TOL, diffs


def test_gray_batched_matches_reference(gray):
    (pool, logits), (ref_pool, ref_logits_unbiased, _) = gray
    assert pool.shape == (8, 2048) and logits.shape == (8, 1008) and pool.dtype == np.float32
    diffs = {"pool": _rel_diff(pool, ref_pool), "logits": _rel_diff(logits, ref_logits_unbiased)}
    print("gray relative differences:", diffs)
    assert max(diffs.values()) <= REL_TOL, diffs


def test_fid_matches_reference(rgb, gray):
    # 8 vs 8 samples: on all 2048 dimensions the covariances are singular and one 2048² sqrtm
    # takes minutes here, so compare FID on a fixed random projection to 6 dimensions (full
    # rank with 8 samples) and on the first 256 raw dimensions (singular: the eps offset path).
    projection = np.random.default_rng(3).normal(size=(2048, 6)) / np.sqrt(2048)
    ours_a, ours_b = rgb[0]["pool"], gray[0][0]
    ref_a, ref_b = rgb[1][0], gray[1][0]

    def fid(a, b, view):
        return frechet_distance(*feature_stats(view(a)), *feature_stats(view(b)))

    for label, view in (("projected", lambda f: f.astype(np.float64) @ projection),
                        ("first 256", lambda f: f[:, :256])):
        ours, ref = fid(ours_a, ours_b, view), fid(ref_a, ref_b, view)
        print(f"FID {label}: ours {ours:.8g}, reference {ref:.8g}, "
              f"relative difference {abs(ours - ref) / abs(ref):.3g}")
        assert ref > 0 and abs(ours - ref) <= 1e-3 * abs(ref), (label, ours, ref)


def test_bad_images_are_refused(setup):
    run = inception.features_fn(setup[2], batch_size=5)
    good = np.zeros((2, 8, 8, 3), np.float32)
    cases = [
        (good + 1.5, r"\[-1, 1\].*max 1\.5"),
        (good - 1.01, r"\[-1, 1\].*min -1\.01"),
        (np.full_like(good, np.nan), r"\[-1, 1\].*nan"),
        (np.zeros((2, 8, 8, 2), np.float32), r"1 or 3 channels.*got 2"),
        (np.zeros((8, 8, 3), np.float32), r"4-D.*\(8, 8, 3\)"),
        (np.zeros((2, 8, 8, 3), np.uint8), r"floating point.*uint8"),
    ]
    for images, message in cases:
        for fn in (run, inception.preprocess):
            with pytest.raises(ValueError, match=message):
                fn(images)
    inception.check_images(good + 1.0 + 1e-7)  # Within the rounding tolerance.
    pool, logits = run(np.zeros((0, 8, 8, 3), np.float32))  # Nothing to compute.
    assert pool.shape == (0, 2048) and logits.shape == (0, 1008)


def test_wrong_weights_file_names_first_bad_tensor(setup, tmp_path):
    _, npz, _ = setup
    with np.load(npz) as f:
        flat = {k: f[k] for k in f.files}
    names = list(inception.expected_shapes())
    early, late = names[10], names[40]
    # A misshapen tensor before a missing one: the message names the earlier one, with shapes.
    broken = dict(flat)
    broken[early] = flat[early][..., :1]
    del broken[late]
    weights.save_npz(broken, tmp_path / "broken.npz")
    expected, found = tuple(flat[early].shape), tuple(broken[early].shape)
    with pytest.raises(ValueError, match=(f"'{early}' expected shape "
                                          f"{expected}, found {found}").replace("(", r"\(")
                                                                         .replace(")", r"\)")):
        inception.load_params(tmp_path / "broken.npz")
    del broken[early]
    weights.save_npz(broken, tmp_path / "missing.npz")
    with pytest.raises(ValueError, match=f"'{early}' expected shape .*, found missing"):
        inception.load_params(tmp_path / "missing.npz")
    weights.save_npz({**flat, "params/extra": np.zeros(3)}, tmp_path / "extra.npz")
    with pytest.raises(ValueError, match="unexpected tensor 'params/extra'"):
        inception.load_params(tmp_path / "extra.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a jgan weights .npz"):
        inception.load_params(tmp_path / "junk.npz")
    # The converter refuses a state dict with a wrong tensor too.
    state_dict = torch.load(npz.with_name("random_inception.pth"), weights_only=True)
    state_dict = {k: v.numpy() for k, v in state_dict.items()}
    state_dict["Mixed_6a.branch3x3.conv.weight"] = np.zeros((384, 288, 3, 1), np.float32)
    with pytest.raises(ValueError, match="Mixed_6a/branch3x3/conv/kernel' expected shape "
                                         r"\(3, 3, 288, 384\), found \(3, 1, 288, 384\)"):
        convert_inception.convert_state_dict(state_dict)


def test_weights_location_and_hash(setup, tmp_path, monkeypatch):
    _, npz, _ = setup
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = inception.default_weights_path()
    assert path == tmp_path / "cache" / "jgan" / "inception_fid.npz"
    with pytest.raises(FileNotFoundError, match="python -m jgan.metrics.convert_inception"):
        inception.load_params()
    with pytest.raises(FileNotFoundError, match=str(path)):
        inception.weights_hash()
    assert inception.weights_hash(npz) == hashlib.sha256(npz.read_bytes()).hexdigest()
    # Converting the same weights again gives the same bytes, so cached statistics stay valid.
    with np.load(npz) as f:
        weights.save_npz({k: f[k] for k in f.files}, path)
    assert inception.weights_hash() == inception.weights_hash(npz)
