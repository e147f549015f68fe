"""Penalties on D's input gradients: WGAN-GP and R1, as functions of D's logits.

`logits_fn(x) -> logits [B]` is D applied as in its training pass; examples are independent, so
the gradient of the summed logits gives each example's own input gradient.
"""
import jax
import jax.numpy as jnp


def input_grad_norm(logits_fn, x):
    """‖∂D(x_i)/∂x_i‖₂ per example."""
    grads = jax.grad(lambda x: logits_fn(x).sum())(x)
    return jnp.sqrt(jnp.sum(grads.reshape(x.shape[0], -1) ** 2, axis=-1))


def gradient_penalty(logits_fn, real, fake, eps):
    """WGAN-GP (Gulrajani et al. 2017): E(‖∇D(x̂)‖ − 1)² at x̂ = eps·real + (1 − eps)·fake."""
    x_hat = eps * real + (1.0 - eps) * fake
    return jnp.mean((input_grad_norm(logits_fn, x_hat) - 1.0) ** 2)


def r1_penalty(logits_fn, real):
    """R1 (Mescheder et al. 2018) without its γ/2: E‖∇D(x_real)‖²."""
    return jnp.mean(input_grad_norm(logits_fn, real) ** 2)
