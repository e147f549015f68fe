"""Each loss against its textbook formula, written with explicit sigmoids and logs."""
import numpy as np
import pytest

import jgan

REAL = np.array([2.0, -0.5, 0.3, 1.2], np.float32)
FAKE = np.array([-1.5, 0.4, 0.0, -0.2], np.float32)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


TEXTBOOK = {
    # name: (d_loss(real, fake), g_loss(fake))
    "minimax": (lambda r, f: -np.mean(np.log(_sigmoid(r))) - np.mean(np.log(1 - _sigmoid(f))),
                lambda f: np.mean(np.log(1 - _sigmoid(f)))),
    "non_saturating": (lambda r, f: -np.mean(np.log(_sigmoid(r))) - np.mean(np.log(1 - _sigmoid(f))),
                       lambda f: -np.mean(np.log(_sigmoid(f)))),
    "hinge": (lambda r, f: np.mean(np.maximum(0, 1 - r)) + np.mean(np.maximum(0, 1 + f)),
              lambda f: -np.mean(f)),
    "wasserstein": (lambda r, f: np.mean(f) - np.mean(r), lambda f: -np.mean(f)),
    "least_squares": (lambda r, f: 0.5 * np.mean((r - 1) ** 2) + 0.5 * np.mean(f ** 2),
                      lambda f: 0.5 * np.mean((f - 1) ** 2)),
}


def test_every_registered_loss_has_a_textbook_check():
    assert sorted(TEXTBOOK) == jgan.losses.names()


@pytest.mark.parametrize("name", sorted(TEXTBOOK))
def test_loss_matches_textbook_formula(name):
    loss = jgan.losses.get(name)
    d_ref, g_ref = TEXTBOOK[name]
    np.testing.assert_allclose(loss.d(REAL, FAKE), d_ref(REAL, FAKE), rtol=1e-6)
    np.testing.assert_allclose(loss.g(FAKE), g_ref(FAKE), rtol=1e-6)


def test_custom_loss_pair_passes_through():
    d, g = (lambda r, f: (r - f).sum()), (lambda f: f.sum())
    assert jgan.losses.get((d, g)) == jgan.losses.Loss(d, g)


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match="unknown loss 'nonsaturating'.*hinge.*non_saturating"):
        jgan.losses.get("nonsaturating")
