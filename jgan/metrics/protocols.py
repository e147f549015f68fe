"""Named evaluation protocols: which real split, how many real and generated images.

A number such as FID means little without its protocol: papers differ in the real split (train or
test), in how many real images give the reference statistics and in how many samples are scored.
Each protocol here fixes all three, and its name is the metric's name wherever it is reported
(`eval/fid50k_train` in metrics.jsonl and TensorBoard, `fid50k_train` from `jgan evaluate`):

| protocol | real images | generated | as in |
| --- | --- | --- | --- |
| `fid50k_train`, `kid50k_train`, `pr50k_train` | the first 50 000 of `train` | 50 000 | Mimicry (Lee & Town 2020) |
| `fid10k_test`, `kid10k_test`, `pr10k_test` | the first 10 000 of `test` | 10 000 | StudioGAN (Kang et al.) |
| `fid10k_train`, `kid10k_train`, `pr10k_train` | the first 10 000 of `train` | 10 000 | a cheaper train-split check |
| `is50k`, `is10k` | none (Inception Score) | 50 000 / 10 000 | Salimans et al. 2016, 10 splits |

All run on the FID Inception (`jgan.metrics.inception`). The reference statistics — the real
images' features, their mean and covariance — are computed once per dataset, split, count, image
shape and weights (their sha256) and cached (`jgan.metrics.evaluate.reference`). Precision and
recall (k = 3) are computed in row chunks here, so 50 000 × 50 000 distances never sit in memory.
"""
import dataclasses
import functools
from typing import Optional

import jax
import jax.numpy as jnp

from jgan.metrics import distribution
from jgan.registry import Registry


@dataclasses.dataclass(frozen=True)
class Protocol:
    """`metric` on `num_fake` samples against the first `num_real` images of `split`."""
    metric: str             # "fid", "kid", "pr" or "is".
    split: Optional[str]    # The real split; None for the Inception Score (no real images).
    num_real: int
    num_fake: int
    origin: str             # Whose protocol this is.

    def describe(self, name: str) -> dict:
        """What to write beside a number measured under this protocol."""
        return {"protocol": name, "metric": self.metric, "real_split": self.split,
                "num_real": self.num_real, "num_fake": self.num_fake, "origin": self.origin}


PROTOCOLS = Registry("evaluation protocol")
_SETUPS = (("50k_train", "train", 50_000, "Mimicry (Lee & Town 2020): 50k train vs 50k samples"),
           ("10k_test", "test", 10_000, "StudioGAN (Kang et al.): 10k test vs 10k samples"),
           ("10k_train", "train", 10_000, "the first 10k train images vs 10k samples"))
for _metric in ("fid", "kid", "pr"):
    for _suffix, _split, _num, _origin in _SETUPS:
        PROTOCOLS.register(f"{_metric}{_suffix}", Protocol(_metric, _split, _num, _num, _origin))
for _num in (50_000, 10_000):
    PROTOCOLS.register(f"is{_num // 1000}k", Protocol("is", None, 0, _num,
                                                      "Inception Score, 10 splits"))


# ---------------------------------------------------------------------------------------------
# The metrics, on generated features (or logits) and the cached reference statistics.

def fid(fake, reference: dict) -> dict:
    """FID against the cached mean and covariance (float64, as `distribution.fid`)."""
    mu, sigma = distribution.feature_stats(fake)
    return {"fid": distribution.frechet_distance(mu, sigma, reference["mu"], reference["sigma"])}


def kid(fake, reference: dict) -> dict:
    return distribution.kid(fake, reference["features"])


def inception_score(fake_logits, reference: Optional[dict] = None) -> dict:
    return distribution.inception_score(fake_logits)


def precision_recall(fake, reference, k: int = 3, rows: int = 1024) -> dict:
    """Improved precision and recall (Kynkäänniemi et al. 2019) as `distribution.precision_recall`
    computes them (squared distances, inside if ≤ the k-th neighbour's), `rows` rows at a time."""
    real = reference["features"] if isinstance(reference, dict) else reference
    fake, real = jnp.asarray(fake, jnp.float32), jnp.asarray(real, jnp.float32)
    real_r2, fake_r2 = _kth_neighbour_sq(real, k, rows), _kth_neighbour_sq(fake, k, rows)
    precision = _inside_any(fake, real, real_r2, rows).mean()
    recall = _inside_any(real, fake, fake_r2, rows).mean()
    return {"precision": float(precision), "recall": float(recall)}


@functools.partial(jax.jit, static_argnames=("k", "rows"))
def _kth_neighbour_sq(x_NxD, k: int, rows: int):
    """Squared distance of each point to its k-th nearest neighbour, itself excluded."""
    return _row_map(lambda chunk: -jax.lax.top_k(-_sq_distances(chunk, x_NxD), k + 1)[0][:, k],
                    x_NxD, rows)


@functools.partial(jax.jit, static_argnames="rows")
def _inside_any(queries_NxD, points_MxD, radii_sq_M, rows: int):
    """Whether each query lies within some point's radius (distance² ≤ radius²)."""
    return _row_map(lambda chunk: (_sq_distances(chunk, points_MxD) <= radii_sq_M[None]).any(1),
                    queries_NxD, rows)


def _sq_distances(a_NxD, b_MxD):
    """The same expression as `distribution._sq_distances`, so the decisions match exactly."""
    b_norms = (b_MxD ** 2).sum(axis=1)
    return jnp.maximum((a_NxD ** 2).sum(1)[:, None] + b_norms[None] - 2.0 * a_NxD @ b_MxD.T, 0.0)


def _row_map(fn, x_NxD, rows: int):
    """`fn` over `rows`-row chunks of `x` (zero-padded), results concatenated and trimmed."""
    pad = -x_NxD.shape[0] % rows
    chunks = jnp.pad(x_NxD, ((0, pad), (0, 0))).reshape(-1, rows, x_NxD.shape[1])
    return jax.lax.map(fn, chunks).reshape(-1)[:x_NxD.shape[0]]


FUNCTIONS = {"fid": fid, "kid": kid, "pr": precision_recall, "is": inception_score}
