"""Regularisers as values: GP and R1 give today's numbers, LeCam's state, DRAGAN, a user's own
regulariser, and bad input.

Golden values: tests/data/regularizer_golden.json, made by tests/data/make_regularizer_golden.py
(its docstring has the command) with the code of commit 5daba72, where GP and R1 were the step's
`gp_weight` / `r1_weight` / `r1_every` flags. Regenerate them only if the step's numbers are meant
to change (e.g. a new random stream for the penalties), and say why in the commit.
"""
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jgan
from jgan import regularizers

from conftest import REPO

sys.path.insert(0, str(REPO / "tests" / "data"))
import make_regularizer_golden as golden  # noqa: E402

GOLDEN = json.loads((REPO / "tests" / "data" / "regularizer_golden.json").read_text())
Z_DIM, SHAPE, B = 2, (2,), 16
TX = optax.adam(1e-3, 0.5)


def _values_step(loss, n_critic, flags):
    """Today's flags written as regulariser values."""
    regs = []
    if flags.get("gp_weight"):
        regs.append(regularizers.gp(flags["gp_weight"]))
    if flags.get("r1_weight"):
        regs.append(regularizers.r1(flags["r1_weight"], every=flags.get("r1_every", 1)))
    return jgan.make_train_step(loss, n_critic=n_critic, regularizers=regs)


@pytest.mark.parametrize("name", sorted(golden.CASES))
def test_gp_and_r1_values_give_the_numbers_of_the_old_flags(name):
    result = golden.run(golden.CASES[name], _values_step)
    want = GOLDEN[name]
    for step, (got, expected) in enumerate(zip(result["metrics"], want["metrics"])):
        assert sorted(got) == sorted(expected), step
        for key in expected:
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name} step {step} {key}")
    for key in ("d_params", "g_params"):
        np.testing.assert_allclose(result[key], want[key], rtol=1e-5, atol=1e-5, err_msg=key)
