"""Metrics against closed forms and brute-force NumPy versions of the reference definitions."""
import numpy as np
import pytest

from jgan import metrics
from jgan.metrics import distribution, modes


def test_fid_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 8))
    assert abs(metrics.get("fid")(x, x)["fid"]) < 1e-6


def test_frechet_distance_matches_the_diagonal_closed_form():
    # For diagonal covariances: ‖μ1 − μ2‖² + Σ (s1 + s2 − 2 √(s1 s2)).
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    np.testing.assert_allclose(distribution.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)),
                               expected, rtol=1e-10)


def test_frechet_distance_handles_a_singular_product():
    sigma = np.diag([1.0, 0.0])  # Rank deficient: the reference adds eps to the diagonals.
    assert abs(distribution.frechet_distance(np.zeros(2), sigma, np.zeros(2), sigma)) < 1e-5


def test_kid_is_unbiased_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    same = metrics.get("kid")(a, b, num_subsets=20, subset_size=200)
    assert abs(same["kid_mean"]) < 3 * same["kid_std"] + 1e-4
    shifted = metrics.get("kid")(a, b + 0.5, num_subsets=20, subset_size=200)
    assert shifted["kid_mean"] > 10 * max(same["kid_std"], 1e-4)


def test_inception_score_bounds():
    one_hot = np.where(np.eye(10)[np.arange(1000) % 10] > 0, 20.0, -20.0)  # Confident, all classes.
    np.testing.assert_allclose(distribution.inception_score(one_hot)["is_mean"], 10.0, rtol=1e-3)
    uniform = np.zeros((1000, 10))  # p(y|x) = p(y): the score's minimum.
    np.testing.assert_allclose(distribution.inception_score(uniform)["is_mean"], 1.0, rtol=1e-6)


def _brute_force(fake, real):
    """The papers' definitions, written as loops."""
    def kth(x, k):
        return np.array([np.sort(np.sum((x - p) ** 2, axis=1))[k] for p in x])
    r3, f3 = kth(real, 3), kth(fake, 3)
    precision = np.mean([any(np.sum((real - f) ** 2, 1) <= r3) for f in fake])
    recall = np.mean([any(np.sum((fake - r) ** 2, 1) <= f3) for r in real])
    r5 = np.sqrt(kth(real, 5))
    dist = lambda p, q: np.sqrt(np.sum((p - q) ** 2, 1))
    density = np.mean([np.sum(dist(real, f) < r5) for f in fake]) / 5
    coverage = np.mean([dist(fake, r).min() < r5[i] for i, r in enumerate(real)])
    return precision, recall, density, coverage


def test_precision_recall_density_coverage_match_the_definitions():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(60, 3)), rng.normal(0.7, 1.3, size=(50, 3))
    precision, recall, density, coverage = _brute_force(fake, real)
    pr, dc = metrics.get("pr")(fake, real), metrics.get("dc")(fake, real)
    np.testing.assert_allclose([pr["precision"], pr["recall"], dc["density"], dc["coverage"]],
                               [precision, recall, density, coverage], rtol=1e-6)
    assert 0 < precision < 1 and 0 < recall < 1  # The case is not degenerate.


def test_mode_stats_count_exactly():
    centres = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    samples = np.array([[0.01, 0.0], [0.0, 0.02], [1.0, 0.01], [0.5, 0.5], [0.98, 1.0], [0.96, 1.0]])
    stats = modes.mode_stats(samples, centres, std=0.01)  # 3 std = 0.03: [0.5, .5] and [.96, 1] miss.
    p = np.array([2, 1, 1]) / 4
    assert stats["modes"] == 3 and stats["high_quality"] == 4 / 6
    np.testing.assert_allclose(stats["reverse_kl"], np.sum(p * np.log(p * 4)))


def test_unknown_metric_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown metric 'fidd'; expected one of \['dc', 'dc_fmnist', 'fid'"):
        metrics.get("fidd")


def test_density_is_one_in_expectation_for_identical_distributions():
    # Each real ball holds a new sample with probability k/N (exchangeability), so E[density] = 1;
    # in 2-D the estimate concentrates tightly around it.
    rng = np.random.default_rng(4)
    real, fake = rng.standard_normal((2000, 2)), rng.standard_normal((2000, 2))
    assert abs(metrics.get("dc")(fake, real)["density"] - 1.0) < 0.03


def test_evaluate_cli_reports_modes_of_a_checkpoint(ring_config, tmp_path):
    import json
    import subprocess
    import sys

    from jgan.run import loop
    from conftest import REPO
    loop.train_and_evaluate(ring_config, tmp_path)
    result = subprocess.run([sys.executable, "-m", "jgan", "evaluate", "--workdir", str(tmp_path),
                             "--metrics", "modes", "--num", "500"], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(stats) == {"modes", "high_quality", "reverse_kl"} and 0 <= stats["modes"] <= 8
    result = subprocess.run([sys.executable, "-m", "jgan", "evaluate", "--workdir", str(tmp_path),
                             "--metrics", "fid"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "do not apply to 2-D data" in result.stderr
