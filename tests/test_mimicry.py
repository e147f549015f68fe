"""sngan and cgan_pd against Mimicry's own modules (torch_mimicry 0.1.16), on identical weights.

Mimicry builds its nets with random weights (seeded); `jgan.models.mimicry.convert` copies them,
with their BatchNorm statistics and spectral norm vectors, into jgan's modules. Both then see the
same z, images and labels, in training mode several times over (BatchNorm statistics and the SN
vectors advance on both sides) and in eval mode. CI installs torch and torch-mimicry (`.ci/run`);
neither is a jgan dependency. jgan runs on the "lax" layer path, the one GPUs and TPUs take and
against which tests/test_nn_conv.py checks the CPU paths.
"""
import importlib
import importlib.util
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jgan
from jgan.models import mimicry

REL_TOL = 1e-5
B, K_CALLS, NUM_CLASSES = 4, 3, 10


_ROOT = importlib.util.find_spec("torch_mimicry").submodule_search_locations[0]


def _mimicry(name: str):
    """A torch_mimicry submodule, without the package __init__ (it imports TensorFlow)."""
    for package in ("torch_mimicry", "torch_mimicry.nets", "torch_mimicry.nets.sngan",
                    "torch_mimicry.nets.cgan_pd"):
        if package not in sys.modules:  # Empty packages: their __init__ imports every net.
            module = types.ModuleType(package)
            module.__path__ = ["/".join([_ROOT, *package.split(".")[1:]])]
            sys.modules[package] = module
    return importlib.import_module(name)


def _rel_diff(ours, ref) -> float:
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    assert ours.shape == ref.shape
    return float(np.abs(ours - ref).max() / np.abs(ref).max())


def _state_dict(net) -> dict:
    # Copies: PyTorch updates BatchNorm statistics and SN vectors in place.
    return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}


def _nets(name: str, resolution: int = 32):
    """(Mimicry's G, D) with seeded random weights."""
    if name == "sngan":
        module = _mimicry(f"torch_mimicry.nets.sngan.sngan_{resolution}")
        return (getattr(module, f"SNGANGenerator{resolution}")(),
                getattr(module, f"SNGANDiscriminator{resolution}")())
    module = _mimicry("torch_mimicry.nets.cgan_pd.cgan_pd_32")
    return (module.CGANPDGenerator32(num_classes=NUM_CLASSES),
            module.CGANPDDiscriminator32(num_classes=NUM_CLASSES))


class Pair:
    """Mimicry's and jgan's G and D on the same weights and inputs; jgan's variables evolve."""

    def __init__(self, name: str):
        torch.manual_seed(0)
        self.ref_G, self.ref_D = _nets(name)
        kw = dict(num_classes=NUM_CLASSES) if name == "cgan_pd" else {}
        self.G, self.D = jgan.models.get(name, conv_impl="lax", **kw)
        rng = np.random.default_rng(0)
        self.z = rng.standard_normal((B, 128)).astype(np.float32)
        self.x = rng.uniform(-1, 1, (B, 32, 32, 3)).astype(np.float32)
        self.labels = np.array([0, 3, 9, 3]) if name == "cgan_pd" else None
        labels = None if self.labels is None else jnp.asarray(self.labels)
        self.g_vars = mimicry.convert(_state_dict(self.ref_G), jax.eval_shape(
            lambda: self.G.init(jax.random.key(0), jnp.asarray(self.z), labels, train=False)))
        self.d_vars = mimicry.convert(_state_dict(self.ref_D), jax.eval_shape(
            lambda: self.D.init(jax.random.key(0), jnp.asarray(self.x), labels, train=False)))
        self.g_apply = self.G.apply  # Op by op: faster here than compiling.
        self.d_apply = self.D.apply

    def _label_args(self):
        return () if self.labels is None else (torch.tensor(self.labels),)

    def ref_g(self, train: bool):
        self.ref_G.train(train)
        with torch.no_grad():
            return self.ref_G(torch.tensor(self.z), *self._label_args()).numpy().transpose(0, 2, 3, 1)

    def ref_d(self, train: bool):
        self.ref_D.train(train)
        with torch.no_grad():
            x = torch.tensor(self.x.transpose(0, 3, 1, 2))
            return self.ref_D(x, *self._label_args()).numpy()[:, 0]

    def g(self, train: bool):
        if not train:
            return self.g_apply(self.g_vars, self.z, self.labels, train=False)
        images, mutated = self.g_apply(self.g_vars, self.z, self.labels, train=True,
                                       mutable=("batch_stats",))
        self.g_vars = {**self.g_vars, **mutated}
        return images

    def d(self, train: bool):
        if not train:
            return self.d_apply(self.d_vars, self.x, self.labels, train=False)
        logits, mutated = self.d_apply(self.d_vars, self.x, self.labels, train=True,
                                       mutable=("spectral_norm",))
        self.d_vars = {**self.d_vars, **mutated}
        return logits


@pytest.fixture(scope="module", params=["sngan", "cgan_pd"])
def pair(request):
    return Pair(request.param)


def _count(tree) -> int:
    return sum(int(np.prod(np.shape(leaf))) for leaf in jax.tree.leaves(tree))


def test_parameter_counts_equal_mimicry(pair):
    assert _count(pair.g_vars["params"]) == sum(p.numel() for p in pair.ref_G.parameters())
    assert _count(pair.d_vars["params"]) == sum(p.numel() for p in pair.ref_D.parameters())


def test_g_outputs_equal_in_training_mode_k_times_then_in_eval_mode(pair):
    for call in range(K_CALLS):  # BatchNorm's running statistics advance on both sides.
        assert _rel_diff(pair.g(train=True), pair.ref_g(train=True)) <= REL_TOL, call
    assert _rel_diff(pair.g(train=False), pair.ref_g(train=False)) <= REL_TOL


def test_d_logits_and_sn_vectors_equal_in_training_mode_k_times_then_in_eval_mode(pair):
    for call in range(K_CALLS):
        assert _rel_diff(pair.d(train=True), pair.ref_d(train=True)) <= REL_TOL, call
    # Each SN layer's u took the same K_CALLS power iterations on both sides.
    ref = mimicry.convert(_state_dict(pair.ref_D), pair.d_vars)["spectral_norm"]
    for path, u in jax.tree_util.tree_leaves_with_path(pair.d_vars["spectral_norm"]):
        np.testing.assert_allclose(u, _leaf(ref, path), rtol=0, atol=1e-5,
                                   err_msg=jax.tree_util.keystr(path))
    assert _rel_diff(pair.d(train=False), pair.ref_d(train=False)) <= REL_TOL


def test_d_hinge_loss_gradients_equal_mimicry_through_spectral_norm(pair):
    """One D update's gradients (real pass, then fake pass, each advancing the SN vectors): the
    backward pass through σ = uᵀWv is PyTorch's."""
    fake = -pair.x[::-1]  # A second batch of images; G is not involved.
    labels = () if pair.labels is None else (torch.tensor(pair.labels),)
    pair.ref_D.train()
    pair.ref_D.zero_grad()
    outputs = [pair.ref_D(torch.tensor(x.transpose(0, 3, 1, 2)), *labels) for x in (pair.x, fake)]
    (torch.relu(1 - outputs[0]).mean() + torch.relu(1 + outputs[1]).mean()).backward()

    def loss(params):
        variables = {**pair.d_vars, "params": params}
        real, mutated = pair.D.apply(variables, pair.x, pair.labels, train=True,
                                     mutable=["spectral_norm"])
        fake_logits, mutated = pair.D.apply({**variables, **mutated}, fake, pair.labels,
                                            train=True, mutable=["spectral_norm"])
        return jnp.mean(jax.nn.relu(1 - real)) + jnp.mean(jax.nn.relu(1 + fake_logits)), mutated

    grads, mutated = jax.grad(loss, has_aux=True)(pair.d_vars["params"])
    pair.d_vars = {**pair.d_vars, **mutated}  # In step with Mimicry's D for the next test.
    ref_grads = _state_dict(pair.ref_D) | {k: p.grad.numpy() for k, p in
                                           pair.ref_D.named_parameters()}
    ref_grads = mimicry.convert(ref_grads, pair.d_vars)["params"]  # Gradients in weights' slots.
    for path, grad in jax.tree_util.tree_leaves_with_path(grads):
        assert _rel_diff(grad, _leaf(ref_grads, path)) <= REL_TOL, jax.tree_util.keystr(path)


def _leaf(tree, path):
    for key in path:
        tree = tree[key.key]
    return tree


@pytest.mark.parametrize("resolution", [48, 64])
def test_parameter_counts_equal_mimicry_at_48_and_64_px(resolution):
    torch.manual_seed(0)
    ref_G, ref_D = _nets("sngan", resolution)
    G, D = jgan.models.get("sngan", resolution=resolution)
    g_shapes = jax.eval_shape(lambda: G.init(jax.random.key(0), jnp.zeros((1, 128)), train=False))
    d_shapes = jax.eval_shape(lambda: D.init(jax.random.key(0), jnp.zeros(
        (1, resolution, resolution, 3)), train=False))
    assert _count(g_shapes["params"]) == sum(p.numel() for p in ref_G.parameters())
    assert _count(d_shapes["params"]) == sum(p.numel() for p in ref_D.parameters())
