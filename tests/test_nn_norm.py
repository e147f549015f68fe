"""jgan.nn.BatchNorm: the CPU path (sums as matrix products, custom JVP) and the reference path
both compute what flax.linen.BatchNorm computes, with its parameters, in every mode of
differentiation."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jgan
from jgan import nn as norm
from jgan.nn import ConditionalBatchNorm


def _assert_trees_close(ours, ref):
    """Same tree; each leaf within 1e-5 of the reference's largest magnitude."""
    assert jax.tree.structure(ours) == jax.tree.structure(ref)  # Flax's names and shapes.
    for (path, b), a in zip(jax.tree_util.tree_flatten_with_path(ref)[0], jax.tree.leaves(ours)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * float(jnp.max(jnp.abs(b))),
                                   err_msg=jax.tree_util.keystr(path))


def _train_apply(module, x, params_shift=0.1, axis_name=None):
    """Output, updated batch statistics and gradients (params, x) of a loss through `module`."""
    variables = module.init(jax.random.key(1), x)
    # Scale and bias away from 1 and 0, so their gradients and their use are both exercised.
    params = jax.tree.map(lambda p: p + params_shift * jnp.arange(p.size).reshape(p.shape),
                          variables["params"])
    weights = jax.random.normal(jax.random.key(2), x.shape)

    def loss(params, x):
        y, updated = module.apply({"params": params, "batch_stats": variables["batch_stats"]}, x,
                                  mutable=["batch_stats"])
        return jnp.sum(jnp.sin(y) * weights), (y, updated["batch_stats"])

    (_, (y, stats)), grads = jax.value_and_grad(loss, (0, 1), has_aux=True)(params, x)
    return y, stats, grads


@pytest.mark.parametrize("shape", [(8, 5, 5, 6), (16, 12)])
@pytest.mark.parametrize("impl", ["xla_cpu", "lax"])
def test_batchnorm_matches_flax_values_statistics_and_gradients(shape, impl):
    x = 3.0 * jax.random.normal(jax.random.key(0), shape) + 1.0
    kwargs = dict(use_running_average=False, momentum=0.9, epsilon=1e-3)
    ref = _train_apply(nn.BatchNorm(**kwargs), x)
    _assert_trees_close(_train_apply(norm.BatchNorm(impl=impl, **kwargs), x), ref)


def test_batchnorm_matches_flax_in_inference_mode():
    x = jax.random.normal(jax.random.key(0), (4, 3, 3, 5))
    variables = nn.BatchNorm(use_running_average=True).init(jax.random.key(1), x)
    variables = jax.tree.map(lambda v: v + 0.3 * jnp.arange(v.size).reshape(v.shape), variables)
    ref = nn.BatchNorm(use_running_average=True).apply(variables, x)
    np.testing.assert_allclose(norm.BatchNorm(use_running_average=True, impl="xla_cpu").apply(
        variables, x), ref, rtol=1e-6)


def test_batchnorm_under_pmap_matches_flax_cross_device_statistics():
    n = jax.local_device_count()
    x = 2.0 * jax.random.normal(jax.random.key(0), (n, 3, 4, 4, 6)) - 0.5

    def run(module):
        y, stats, grads = jax.pmap(lambda x: _train_apply(module, x), axis_name="i")(x)
        return y, jax.tree.map(lambda s: s[0], stats), grads

    ref = run(nn.BatchNorm(use_running_average=False, axis_name="i"))
    ours = run(norm.BatchNorm(use_running_average=False, axis_name="i", impl="xla_cpu"))
    # Here the statistics are over all n devices' rows, the x-gradients carry every device's
    # share, and the parameter gradients are each device's own (the step averages them).
    _assert_trees_close(ours, ref)


def test_gradients_of_gradients_match_the_reference():
    x = 2.0 * jax.random.normal(jax.random.key(0), (8, 3, 3, 4)) + 0.5
    weights = jax.random.normal(jax.random.key(2), x.shape)

    def r1_grads(impl):  # What an R1 penalty through a BatchNorm needs.
        module = norm.BatchNorm(use_running_average=False, impl=impl)
        variables = module.init(jax.random.key(1), x)

        def logits(params, x):
            y, _ = module.apply({"params": params, "batch_stats": variables["batch_stats"]}, x,
                                mutable=["batch_stats"])
            return jnp.sum(jnp.tanh(y) * weights)

        return jax.grad(lambda p: jnp.sum(jax.grad(logits, 1)(p, x) ** 2))(variables["params"])

    _assert_trees_close(r1_grads("xla_cpu"), r1_grads("lax"))


def test_training_mode_generators_agree_on_either_path():
    G_fast, _ = jgan.models.get("dcgan", resolution=32, width=8, conv_impl="xla_cpu")
    G_ref, _ = jgan.models.get("dcgan", resolution=32, width=8, conv_impl="lax")
    z = jax.random.normal(jax.random.key(0), (4, 16))
    variables = G_fast.init(jax.random.key(1), z, train=False)
    (fast, fast_stats), (ref, ref_stats) = (
        G.apply(variables, z, train=True, mutable=["batch_stats"]) for G in (G_fast, G_ref))
    np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-6)
    for a, b in zip(jax.tree.leaves(fast_stats), jax.tree.leaves(ref_stats)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _loss_and_grads(impl, x):
    """A training-mode BatchNorm's (output and updated statistics) and loss gradient functions."""
    module = norm.BatchNorm(use_running_average=False, impl=impl)
    variables = module.init(jax.random.key(1), x)
    params = jax.tree.map(lambda p: p + 0.1 * jnp.arange(p.size).reshape(p.shape),
                          variables["params"])
    weights = jax.random.normal(jax.random.key(2), x.shape)

    def apply(params, x):
        return module.apply({"params": params, "batch_stats": variables["batch_stats"]}, x,
                            mutable=["batch_stats"])

    grads = jax.grad(lambda p, x: jnp.sum(jnp.sin(apply(p, x)[0]) * weights), (0, 1))
    return apply, grads, params


def test_forward_mode_matches_the_reference():
    """jvp (output and batch statistics), jacfwd and forward-over-reverse (a Hessian-vector
    product), as the lax path gives them."""
    x = 2.0 * jax.random.normal(jax.random.key(0), (6, 2, 2, 3)) + 0.5

    def transforms(impl):
        apply, grads, params = _loss_and_grads(impl, x)
        tangents = jax.tree.map(lambda v: jnp.cos(jnp.arange(v.size, dtype=v.dtype)
                                                  ).reshape(v.shape), (params, x))
        return (jax.jvp(apply, (params, x), tangents), jax.jacfwd(apply, 1)(params, x)[0],
                jax.jvp(grads, (params, x), tangents)[1])

    _assert_trees_close(jax.jit(transforms, static_argnums=0)("xla_cpu"),
                        jax.jit(transforms, static_argnums=0)("lax"))


def test_cpu_gradient_sums_rows_as_matrix_products():
    """Over more than 32 rows XLA:CPU splits a reduction into a reduce-window and a reduce (slow);
    the CPU path's gradient has none: two `ones @ ·` products for the statistics, two for the
    backward sums (of g and g·x̂). The lax path shows what the test would catch."""
    x = jax.random.normal(jax.random.key(0), (64, 8))

    def hlo(impl):
        _, grads, params = _loss_and_grads(impl, x)
        return jax.jit(grads).lower(params, x).compile().as_text()

    ours = hlo("xla_cpu")
    assert "reduce-window(" not in ours and ours.count(" dot(") == 4
    assert "reduce-window(" in hlo("lax")


def test_conditional_batchnorm_gives_each_class_its_own_scale_and_shift():
    x = np.random.default_rng(0).normal(2.0, 3.0, (4, 3, 3, 2)).astype(np.float32)
    labels = np.array([0, 2, 0, 1])
    module = ConditionalBatchNorm(3, use_running_average=False, epsilon=1e-5)
    variables = module.init(jax.random.key(0), x, labels)
    table = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)  # Rows [γ | β].
    variables = {**variables, "params": {"embed": {"embedding": table}}}
    y, _ = module.apply(variables, x, labels, mutable=["batch_stats"])
    x_hat = (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-5)  # Shared statistics.
    gamma, beta = table[labels, None, None, :2], table[labels, None, None, 2:]
    np.testing.assert_allclose(y, gamma * x_hat + beta, rtol=1e-4, atol=1e-5)
    assert "scale" not in variables["params"].get("bn", {})  # Only the embedding scales.
