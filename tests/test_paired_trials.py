"""benchmarks/paired.py, which the recipe choices of docs/presets.md rest on: the paired
standard error and McNemar's test counted by hand, and member weights fitted on one half."""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from paired import (cross_fitted, fitted_weights, greedy_weights, mcnemar_p,  # noqa: E402
                    mixed_accuracies, paired_comparison, subset_accuracies,
                    subsets_text)


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


def one_hot(predicted, classes=3):
    return np.eye(classes)[predicted]


def test_sub_ensemble_accuracies_count_every_subset_by_hand():
    labels = np.array([0, 0, 0, 0])
    members = np.stack([one_hot([0, 0, 1, 1]),     # right on images 0, 1
                        one_hot([0, 1, 0, 2]),     # right on 0, 2
                        one_hot([2, 0, 0, 0])])    # right on 1, 2, 3
    pairs = subset_accuracies(members, labels, 2)
    # pairs (0, 1), (0, 2), (1, 2); a tie of two classes goes to the lower index (argmax)
    # (0, 1): image 0 right; 1: tie 0/1 -> 0 right; 2: tie 1/0 -> 0 right; 3: tie 1/2 -> 1 wrong
    # (0, 2): 0: tie 0/2 -> 0; 1: right; 2: tie 1/0 -> 0; 3: tie 1/0 -> 0: all right
    # (1, 2): 0: tie 0/2 -> 0; 1: tie 1/0 -> 0; 2: right; 3: tie 2/0 -> 0: all right
    np.testing.assert_allclose(pairs, [0.75, 1.0, 1.0])
    np.testing.assert_allclose(subset_accuracies(members, labels, 3), [1.0])
    text = subsets_text(members, members[:2], labels, 2)
    assert "A 91.667 % (mean of 3)" in text and "B 75.000 % (mean of 1)" in text
    assert "difference +16.667 points" in text


def test_mixed_ensembles_take_each_seed_from_one_side_and_both_sides_always():
    labels = np.array([0, 0])
    a = np.stack([one_hot([0, 1]), one_hot([1, 0]), one_hot([0, 0])])   # seeds 0, 1, 2 of A
    b = np.stack([one_hot([1, 1]), one_hot([1, 1]), one_hot([1, 1])])   # all wrong
    mixed = mixed_accuracies(a, b, labels, 2)
    # seed pairs (0, 1), (0, 2), (1, 2), each as A+B and B+A: 3 x 2 ensembles
    # (0, 1): A0+B1 -> image 0 tie 0/1 -> 0 right, image 1 wrong; B0+A1 -> 0 wrong, 1 tie -> right
    # (0, 2): A0+B2 -> 0 right, 1 wrong; B0+A2 -> both ties -> both right
    # (1, 2): A1+B2 -> 0 wrong, 1 right; B1+A2 -> both right
    np.testing.assert_allclose(mixed, [0.5, 0.5, 0.5, 1.0, 0.5, 1.0])
    assert len(mixed_accuracies(a, b, labels, 3)) == 6          # 2**3 - 2 mixes of one triple


def run_proba_vote(*args):
    import subprocess

    script = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "proba_vote.py")
    return subprocess.run([sys.executable, script, *map(str, args)], capture_output=True,
                          text=True)


def test_proba_vote_scores_saved_members_and_compares_ensembles(tmp_path):
    labels = np.array([0, 1, 2, 0])
    saved = {"a0": one_hot([0, 1, 1, 0]), "a1": one_hot([0, 2, 2, 0]),   # 3/4 and 3/4 right
             "b0": one_hot([1, 1, 2, 1]), "b1": one_hot([1, 1, 2, 1])}   # 2/4 each
    for name, proba in saved.items():
        np.savez(tmp_path / f"{name}.npz", proba=proba, labels=labels)
    done = run_proba_vote(tmp_path / "a0.npz", tmp_path / "a1.npz",
                          "--versus", tmp_path / "b0.npz", tmp_path / "b1.npz")
    assert done.returncode == 0, done.stderr
    # A's average: image 1 ties 1/2 -> 1 right, image 2 ties 1/2 -> 1 wrong: 3/4
    assert "A: members 75.00 75.00 % (mean 75.00 %), ensemble 75.00 % of 4" in done.stdout
    assert "B: members 50.00 50.00 % (mean 50.00 %), ensemble 50.00 % of 4" in done.stdout
    assert "right only in A: 2, only in B: 1" in done.stdout   # images 0, 3 against image 2


def test_proba_vote_refuses_members_of_other_images(tmp_path):
    np.savez(tmp_path / "a.npz", proba=one_hot([0, 1]), labels=np.array([0, 1]))
    np.savez(tmp_path / "b.npz", proba=one_hot([0, 1]), labels=np.array([1, 1]))
    done = run_proba_vote(tmp_path / "a.npz", tmp_path / "b.npz")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "validation labels differ" in done.stderr.strip().splitlines()[-1]
