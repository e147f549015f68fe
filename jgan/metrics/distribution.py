"""Metrics between two sets of features: FID, KID, Inception Score, precision/recall, density/coverage.

Definitions follow the reference code: FID as in TTUR / pytorch-fid (float64, `scipy.linalg.sqrtm`,
an `eps` offset when the product is singular); KID as in Bińkowski et al. (unbiased MMD² with the
kernel (xᵀy/d + 1)³, 100 subsets of 1 000); IS with 10 splits; improved precision/recall
(Kynkäänniemi et al., k = 3, squared distances, ≤); density/coverage (Naeem et al., k = 5, <).
Pairwise distances are computed in JAX in row chunks, so memory stays bounded.
"""
import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg



def feature_stats(features_NxD) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) in float64."""
    x = np.asarray(features_NxD, np.float64)
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½), in float64."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"statistics of different sizes: {mu1.shape} vs {mu2.shape}")
    with warnings.catch_warnings():  # A singular product is handled below, as the reference does.
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():  # Offset both diagonals, as the reference.
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"matrix square root has an imaginary part of "
                             f"{np.max(np.abs(covmean.imag)):.3g}")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid(fake, real) -> dict:
    return {"fid": frechet_distance(*feature_stats(fake), *feature_stats(real))}


@jax.jit
def _mmd2_unbiased(x_MxD, y_MxD):
    d = x_MxD.shape[1]
    kernel = lambda a, b: (a @ b.T / d + 1.0) ** 3
    m = x_MxD.shape[0]
    k_xx, k_yy, k_xy = kernel(x_MxD, x_MxD), kernel(y_MxD, y_MxD), kernel(x_MxD, y_MxD)
    off_diagonal = lambda k: (k.sum() - jnp.trace(k)) / (m * (m - 1))
    return off_diagonal(k_xx) + off_diagonal(k_yy) - 2.0 * k_xy.mean()


def kid(fake, real, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> dict:
    """Kernel Inception Distance: mean and std of unbiased MMD² over random subsets."""
    fake, real = np.asarray(fake, np.float32), np.asarray(real, np.float32)
    m = min(subset_size, len(fake), len(real))
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples per set; got {len(fake)} and {len(real)}")
    rng = np.random.default_rng(seed)
    values = [float(_mmd2_unbiased(fake[rng.choice(len(fake), m, replace=False)],
                                   real[rng.choice(len(real), m, replace=False)]))
              for _ in range(num_subsets)]
    return {"kid_mean": float(np.mean(values)), "kid_std": float(np.std(values))}


def inception_score(logits_NxK, splits: int = 10) -> dict:
    """exp(E_x KL(p(y|x) ‖ p(y))), mean and std over `splits` equal parts."""
    log_p = jax.nn.log_softmax(jnp.asarray(logits_NxK, jnp.float64 if jax.config.x64_enabled
                                           else jnp.float32), axis=-1)
    scores = []
    for part in jnp.array_split(log_p, splits):
        log_py = jnp.log(jnp.exp(part).mean(axis=0))
        kl = (jnp.exp(part) * (part - log_py)).sum(axis=1).mean()
        scores.append(float(jnp.exp(kl)))
    return {"is_mean": float(np.mean(scores)), "is_std": float(np.std(scores))}


def inception_score_metric(fake_logits, real=None, splits: int = 10) -> dict:
    """The registry's form of `inception_score`: only the generated images' logits matter."""
    return inception_score(fake_logits, splits)


@functools.partial(jax.jit, static_argnames="chunk")
def _sq_distances(a_NxD, b_MxD, chunk: int = 1024):
    """Squared Euclidean distances [N, M], computed chunk rows at a time."""
    b_norms = (b_MxD ** 2).sum(axis=1)
    pad = -a_NxD.shape[0] % chunk
    a = jnp.pad(a_NxD, ((0, pad), (0, 0))).reshape(-1, chunk, a_NxD.shape[1])
    rows = jax.lax.map(lambda x: jnp.maximum((x ** 2).sum(1)[:, None] + b_norms[None]
                                             - 2.0 * x @ b_MxD.T, 0.0), a)
    return rows.reshape(-1, b_MxD.shape[0])[:a_NxD.shape[0]]


def _kth_neighbour_sq(x_NxD, k: int):
    """Squared distance of each point to its k-th nearest neighbour, itself excluded."""
    d2 = _sq_distances(x_NxD, x_NxD)
    return jnp.sort(d2, axis=1)[:, k]  # Column 0 is the point itself (distance 0).


def precision_recall(fake, real, k: int = 3) -> dict:
    """Improved precision and recall (Kynkäänniemi et al. 2019): squared distances, inside if ≤."""
    fake, real = jnp.asarray(fake, jnp.float32), jnp.asarray(real, jnp.float32)
    real_r2, fake_r2 = _kth_neighbour_sq(real, k), _kth_neighbour_sq(fake, k)
    d2_fake_real = _sq_distances(fake, real)
    precision = (d2_fake_real <= real_r2[None, :]).any(axis=1).mean()
    recall = (d2_fake_real.T <= fake_r2[None, :]).any(axis=1).mean()
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(fake, real, k: int = 5) -> dict:
    """Density and coverage (Naeem et al. 2020), with their precision and recall: Euclidean, <."""
    fake, real = jnp.asarray(fake, jnp.float32), jnp.asarray(real, jnp.float32)
    real_r = jnp.sqrt(_kth_neighbour_sq(real, k))
    fake_r = jnp.sqrt(_kth_neighbour_sq(fake, k))
    d_real_fake = jnp.sqrt(_sq_distances(real, fake))  # [N_real, N_fake]
    inside_real = d_real_fake < real_r[:, None]
    return {"dc_precision": float(inside_real.any(axis=0).mean()),
            "dc_recall": float((d_real_fake < fake_r[None, :]).any(axis=1).mean()),
            "density": float(inside_real.sum(axis=0).mean() / k),
            "coverage": float((d_real_fake.min(axis=1) < real_r).mean())}
