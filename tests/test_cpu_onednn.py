"""jgan's oneDNN extension: built where it should be, counted, and refused clearly when absent.
Its values and gradients against lax's are in test_nn_conv.py (impl="onednn")."""
import platform
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jgan import nn as layers
from jgan.cpu import onednn

DN = ("NHWC", "HWIO", "NHWC")


@pytest.mark.skipif(sys.platform != "linux" or platform.machine() != "x86_64",
                    reason="the extension is built on x86-64 Linux only")
def test_extension_is_built_and_loads_on_x86_64_linux():
    assert onednn.available()


@pytest.mark.parametrize("pads", [((1, 1), (1, 1)), ((2, 0), (0, 2))])
def test_program_flops_counts_the_custom_calls_as_xla_counts_its_convolutions(pads):
    """The forward and both gradients: oneDNN's three calls against lax's three convolutions
    (16 input channels: fewer would take col2im for the input gradient)."""
    x, w, g = jnp.ones((2, 9, 8, 16)), jnp.ones((4, 3, 16, 5)), jnp.ones((2, 4, 4, 5))

    def passes(conv):
        return lambda x, w, g: (conv(x, w), *jax.vjp(conv, x, w)[1](g))

    ours = jax.jit(passes(lambda x, w: onednn.conv(x, w, (2, 2), pads))).lower(x, w, g).compile()
    ref = jax.jit(passes(lambda x, w: lax.conv_general_dilated(x, w, (2, 2), pads,
                                                               dimension_numbers=DN)))
    ref_flops = ref.lower(x, w, g).compile().cost_analysis()["flops"]
    assert all(f"jgan_conv_{p}\"" in ours.as_text() for p in ("fwd", "bwd_data", "bwd_weights"))
    assert onednn.program_flops(ours) == ref_flops > 0


def test_half_precision_and_negative_padding_take_the_xla_path():
    x, w = jnp.ones((1, 5, 5, 2)), jnp.ones((2, 2, 2, 3))
    assert onednn.supports(x, w, ((0, 0), (0, 0))) == onednn.available()
    assert not onednn.supports(x.astype(jnp.float16), w, ((0, 0), (0, 0)))
    assert not onednn.supports(x, w, ((-1, 0), (0, 0)))


def test_an_extension_built_for_another_interface_is_refused_with_the_fix():
    stale = types.SimpleNamespace(FFI_INTERFACE=onednn.FFI_INTERFACE - 1,
                                  __file__="/venv/site-packages/jgan_onednn/__init__.py")
    message = onednn.interface_mismatch(stale)
    assert message == (
        f"the installed jgan-onednn (/venv/site-packages/jgan_onednn/__init__.py) was built for "
        f"FFI interface {onednn.FFI_INTERFACE - 1}, this jgan calls interface "
        f"{onednn.FFI_INTERFACE}: reinstall it from this jgan's repository (pip install ./onednn)")
    assert onednn.interface_mismatch(types.SimpleNamespace(__file__="old.py")) is not None
    assert onednn.interface_mismatch(
        types.SimpleNamespace(FFI_INTERFACE=onednn.FFI_INTERFACE, __file__="new.py")) is None


def test_onednn_impl_without_the_extension_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(onednn, "unavailable_reason", lambda: "the reason, in words")
    x, w = jnp.ones((1, 4, 4, 2)), jnp.ones((3, 3, 2, 2))
    with pytest.raises(RuntimeError, match="layer impl 'onednn' needs the jgan-onednn extension, "
                                           "but the reason, in words; or use 'auto'"):
        layers.conv(x, w, (2, 2), "SAME", impl="onednn")
    # "auto" falls back to the XLA formulations, with the same result.
    np.testing.assert_allclose(layers.conv(x, w, (2, 2), "SAME", impl="auto"),
                               layers.conv(x, w, (2, 2), "SAME", impl="lax"), rtol=1e-6)


@pytest.mark.parametrize("op", ["conv", "conv_transpose"])
def test_every_pass_of_every_mode_is_a_onednn_call(op):
    """Reverse mode runs the three passes as oneDNN calls, once each; forward-over-reverse (a
    Hessian-vector product) too, with no XLA convolution anywhere (16 channels: fewer would take
    col2im for the input gradient)."""
    x = jax.random.normal(jax.random.key(0), (2, 6, 6, 16))
    w = jax.random.normal(jax.random.key(1), (4, 4, 16, 16))
    conv = lambda x, w: getattr(onednn, op)(x, w, (2, 2), ((1, 2), (1, 2)))
    grad = jax.grad(lambda x, w: jnp.sum(jnp.sin(conv(x, w))), (0, 1))
    hvp = lambda x, w: jax.jvp(grad, (x, w), (jnp.cos(x), jnp.cos(w)))[1]
    for f, calls in ((grad, 1), (hvp, None)):
        hlo = jax.jit(f).lower(x, w).compile().as_text()
        counts = [hlo.count(f'custom_call_target="jgan_conv_{p}"')
                  for p in ("fwd", "bwd_data", "bwd_weights")]
        assert " convolution(" not in hlo and all(c == calls if calls else c for c in counts)


def test_unsupported_operands_are_named():
    x, w = jnp.ones((1, 5, 5, 2)), jnp.ones((3, 3, 2, 4))
    with pytest.raises(ValueError, match=r"padding \(\(3, 0\), \(0, 0\)\) of a 3x3 kernel"):
        onednn.conv(x, w, (1, 1), ((3, 0), (0, 0)))
    with pytest.raises(ValueError, match=r"float32 or bfloat16 NHWC / HWIO operands of one dtype; "
                                         r"got float16\[1, 5, 5, 2\]"):
        onednn.conv_transpose(x.astype(jnp.float16), w, (2, 2), ((1, 1), (1, 1)))


def test_batch_sharded_jit_convolves_each_share_and_sums_the_kernel_gradient():
    """Under jit with the batch sharded (jgan.parallel.Engine "jit"), no device gathers the batch:
    each convolves its share and the kernel gradient is all-reduced; the numbers are lax's."""
    mesh = Mesh(np.array(jax.devices()[:4]), ("batch",))
    x = jax.device_put(jax.random.normal(jax.random.key(0), (8, 8, 8, 16)),
                       NamedSharding(mesh, P("batch")))
    w = jax.random.normal(jax.random.key(1), (4, 4, 16, 8))
    pads = ((1, 1), (1, 1))

    def grads(conv):
        return jax.jit(jax.grad(lambda x, w: jnp.sum(jnp.sin(conv(x, w))), (0, 1)))

    ours = grads(lambda x, w: onednn.conv(x, w, (2, 2), pads))
    hlo = ours.lower(x, w).compile().as_text()
    assert "all-gather" not in hlo and "all-reduce" in hlo
    assert "custom-call(" in hlo and "f32[2,8,8,16]" in hlo  # Each device's share: 8 / 4.
    ref = grads(lambda x, w: lax.conv_general_dilated(x, w, (2, 2), pads, dimension_numbers=DN))
    for a, b in zip(ours(x, w), ref(x, w), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
