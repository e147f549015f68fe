"""SpectralNorm: PyTorch's power iteration, σ against NumPy's SVD, the modes, bad input.

(Against PyTorch itself, through Mimicry's networks: tests/test_mimicry.py.)
"""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgan.nn import BatchNorm, Conv, ConvTranspose, SpectralNorm
from jgan.nn.spectral_norm import as_matrix

# name -> (layer, input, name of its weight). Inputs are small; the matrices differ in shape.
LAYERS = {
    "dense": (lambda: nn.Dense(6, name="layer"), np.ones((2, 9), np.float32), "kernel"),
    "conv": (lambda: Conv(5, (3, 3), name="layer"), np.ones((2, 6, 6, 4), np.float32), "kernel"),
    "conv_transpose": (lambda: ConvTranspose(3, (4, 4), strides=(2, 2), name="layer"),
                       np.ones((2, 3, 3, 5), np.float32), "kernel"),
    "embed": (lambda: nn.Embed(7, 4, name="layer"), np.array([0, 3, 6]), "embedding"),
}


class Wrapped(nn.Module):
    kind: str

    @nn.compact
    def __call__(self, x, train: bool):
        return SpectralNorm(LAYERS[self.kind][0]())(x, update_stats=train)


def _numpy_power_iteration(W, u, k):
    """PyTorch's `compute_weight`, k times, in float64: v = Wᵀu/‖·‖, then u = Wv/‖·‖."""
    for _ in range(k):
        v = W.T @ u / max(np.linalg.norm(W.T @ u), 1e-12)
        u = W @ v / max(np.linalg.norm(W @ v), 1e-12)
    return u, v


def _with_spectrum(shape_hxw, rng):
    """A random matrix with singular values 3, 1.5, 1, 0.5, ...: power iteration converges fast."""
    h, w = shape_hxw
    n = min(h, w)
    U, _ = np.linalg.qr(rng.standard_normal((h, n)))
    V, _ = np.linalg.qr(rng.standard_normal((w, n)))
    s = np.array([3.0, 1.5] + list(np.linspace(1.0, 0.1, n - 2)))[:n]
    return (U * s) @ V.T


def _kernel_from_matrix(W_hxw, like, name):
    """The Flax weight whose PyTorch matrix (`as_matrix`) is W."""
    if name == "embedding":
        return W_hxw.reshape(like.shape)
    *spatial, cin, cout = like.shape  # PyTorch's [out, in, *spatial] back to Flax's layout.
    return np.transpose(W_hxw.reshape(cout, cin, *spatial),
                        (*range(2, 2 + len(spatial)), 1, 0))


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_sigma_after_k_iterations_equals_numpy_power_iteration_and_svd(kind):
    module, (_, x, name) = Wrapped(kind), LAYERS[kind]
    variables = module.init(jax.random.key(0), x, False)
    like = variables["params"]["layer"][name]
    W = _with_spectrum(as_matrix(like, name).shape, np.random.default_rng(1))
    variables["params"]["layer"][name] = jnp.asarray(_kernel_from_matrix(W, like, name),
                                                     jnp.float32)
    np.testing.assert_allclose(as_matrix(variables["params"]["layer"][name], name), W, atol=1e-6)
    u0 = np.asarray(variables["spectral_norm"]["layer_sn"]["u"], np.float64)
    train_apply = jax.jit(lambda v: module.apply(v, x, True, mutable=["spectral_norm"]))
    for k in range(1, 13):  # σ's error after k: (1.5 / 3)^2k.
        _, mutated = train_apply(variables)
        variables = {**variables, **mutated}
        u, v = (np.asarray(variables["spectral_norm"]["layer_sn"][n]) for n in "uv")
        if k <= 3:  # Each iteration is PyTorch's, step by step.
            u_ref, v_ref = _numpy_power_iteration(W, u0, k)
            np.testing.assert_allclose(u, u_ref, atol=1e-5, err_msg=f"u after {k}")
            np.testing.assert_allclose(v, v_ref, atol=1e-5, err_msg=f"v after {k}")
    sigma = u @ W @ v
    np.testing.assert_allclose(sigma, np.linalg.svd(W, compute_uv=False)[0], rtol=1e-5)
    # The layer computes with W / σ: its weight's spectral norm is 1.
    captured = {}

    def grab(next_fun, args, kwargs, context):  # The weight the wrapped layer actually reads.
        if context.method_name == "__call__" and context.module.name == "layer":
            captured["w"] = context.module.variables["params"][name]
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(grab):
        module.apply(variables, x, False)
    w_used = as_matrix(captured["w"], name)
    np.testing.assert_allclose(np.linalg.svd(w_used, compute_uv=False)[0], 1.0, rtol=1e-5)


@pytest.mark.parametrize("kind", ["dense", "embed"])
def test_vectors_advance_only_in_training_mode(kind):
    module, x = Wrapped(kind), LAYERS[kind][1]
    variables = module.init(jax.random.key(0), x, False)
    y_eval, frozen = module.apply(variables, x, False, mutable=["spectral_norm"])
    assert jax.tree.all(jax.tree.map(np.array_equal, frozen["spectral_norm"],
                                     variables["spectral_norm"]))
    np.testing.assert_array_equal(module.apply(variables, x, False), y_eval)  # No state, same σ.
    _, trained = module.apply(variables, x, True, mutable=["spectral_norm"])
    for n in "uv":
        assert not np.array_equal(trained["spectral_norm"]["layer_sn"][n],
                                  variables["spectral_norm"]["layer_sn"][n]), n


def test_gradients_flow_through_the_weight_only():
    module, x = Wrapped("dense"), LAYERS["dense"][1]
    variables = module.init(jax.random.key(0), x, False)

    def loss(params):
        y, _ = module.apply({**variables, "params": params}, x, True, mutable=["spectral_norm"])
        return jnp.sum(y ** 2)

    grads = jax.grad(loss)(variables["params"])
    W = np.asarray(variables["params"]["layer"]["kernel"])
    u, v = _numpy_power_iteration(np.asarray(as_matrix(W), np.float64),
                                  np.asarray(variables["spectral_norm"]["layer_sn"]["u"]), 1)
    sigma = u @ as_matrix(W) @ v
    # d/dK Σ(x K/σ + b)², with σ = uᵀ Kᵀ v and u, v constants.
    y = x @ (W / sigma) + np.asarray(variables["params"]["layer"]["bias"])
    g_y = 2 * y
    expected = x.T @ g_y / sigma - np.sum((x @ W) * g_y) / sigma ** 2 * np.outer(v, u)
    np.testing.assert_allclose(grads["layer"]["kernel"], expected, rtol=1e-4, atol=1e-5)


def test_a_layer_without_kernel_or_embedding_is_named_in_one_line():
    class Bad(nn.Module):
        @nn.compact
        def __call__(self, x):
            return SpectralNorm(BatchNorm(use_running_average=True, name="bn"))(
                x, update_stats=False)

    with pytest.raises(ValueError, match=r"^SpectralNorm wraps a layer with a 'kernel' or "
                                         r"'embedding' parameter; BatchNorm 'bn' has \['bias', "
                                         r"'scale'\]"):
        Bad().init(jax.random.key(0), np.ones((2, 3), np.float32))
