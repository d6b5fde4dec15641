"""benchmarks/paired.py, which the recipe choices of docs/presets.md rest on: the paired
standard error and McNemar's test counted by hand, and member weights fitted on one half."""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from paired import (cross_fitted, fitted_weights, greedy_weights, mcnemar_p,  # noqa: E402
                    paired_comparison)


def test_mcnemar_exact_tail():
    assert mcnemar_p(0, 0) == 1.0
    assert math.isclose(mcnemar_p(5, 0), 2 / 32)           # 2 * P(X = 0), X ~ B(5, 1/2)
    assert math.isclose(mcnemar_p(1, 4), 2 * 6 / 32)       # 2 * P(X <= 1)
    assert mcnemar_p(3, 3) == 1.0


def test_paired_difference_and_standard_error():
    labels = np.zeros(100, dtype=int)
    a = labels.copy()
    b = labels.copy()
    a[:2] = 1          # A wrong on 0, 1
    b[2:8] = 1         # B wrong on 2..7
    b[0] = 1           # both wrong on image 0
    r = paired_comparison(a, b, labels)
    assert (r["a_only"], r["b_only"]) == (6, 1)
    assert math.isclose(r["difference"], 0.05)
    assert math.isclose(r["standard_error"], math.sqrt(7 - 25 / 100) / 100)


def synthetic_members(rng, n=400):
    """(probs (3, n, 4), labels): member 0 knows the label, members 1 and 2 guess."""
    labels = rng.integers(0, 4, n)
    good = np.full((n, 4), 0.1)
    good[np.arange(n), labels] = 0.7
    guesses = rng.dirichlet(np.ones(4), size=(2, n))
    return np.concatenate([good[None], guesses]).astype(np.float32), labels


def test_weights_favour_the_member_that_knows():
    probs, labels = synthetic_members(np.random.default_rng(0))
    for fit in (fitted_weights, greedy_weights):
        weights = fit(probs, labels)
        assert math.isclose(weights.sum(), 1.0) and weights[0] > 0.8, (fit.__name__, weights)
    predicted, found = cross_fitted(probs, labels, fitted_weights)
    assert len(found) == 2 and (predicted == labels).mean() == 1.0
