"""Pseudo-label votes and the validation-chosen confidence threshold (contest.adapt.pseudo)."""
import numpy as np

from contest.adapt.pseudo import NO_THRESHOLD, Votes, choose_threshold


def probs(rows):
    """(M, N, 3) member probabilities from rows of per-member (class, confidence)."""
    out = np.zeros((len(rows[0]), len(rows), 3), dtype=np.float32)
    for n, row in enumerate(rows):
        for m, (label, confidence) in enumerate(row):
            out[m, n] = (1 - confidence) / 2
            out[m, n, label] = confidence
    return out


def test_votes_agreement_and_confidence():
    votes = Votes.of(probs([[(0, 0.9), (0, 0.7)], [(1, 0.9), (2, 0.8)]]))
    np.testing.assert_array_equal(votes.agree, [True, False])
    np.testing.assert_allclose(votes.confidence[0], 0.8, rtol=1e-6)
    assert votes.agreement == 0.5
    np.testing.assert_array_equal(votes.selected(0.75), [True, False])
    np.testing.assert_array_equal(votes.selected(0.85), [False, False])


def test_threshold_is_the_lowest_reaching_the_precision():
    # agreeing images by confidence: 0.95 right, 0.9 right, 0.8 wrong, 0.7 right
    rows = [[(0, c), (0, c)] for c in (0.95, 0.9, 0.8, 0.7)] + [[(1, 0.99), (2, 0.99)]]
    votes = Votes.of(probs(rows))
    truth = np.array([0, 0, 1, 0, 1])
    threshold, precision, passing = choose_threshold(votes, truth, precision=0.99)
    assert (round(threshold, 4), precision, passing) == (0.9, 1.0, 2)
    threshold, precision, passing = choose_threshold(votes, truth, precision=0.75)
    assert (round(threshold, 4), precision, passing) == (0.7, 0.75, 4)


def test_tied_confidences_are_admitted_together():
    rows = [[(0, 0.9), (0, 0.9)], [(0, 0.9), (0, 0.9)]]
    threshold, _, _ = choose_threshold(Votes.of(probs(rows)), np.array([0, 1]), precision=0.99)
    assert threshold == NO_THRESHOLD   # 0.9 admits both images, one of them wrong


def test_no_threshold_when_the_precision_is_never_reached():
    rows = [[(0, 0.9), (0, 0.9)], [(1, 0.9), (2, 0.9)]]
    assert choose_threshold(Votes.of(probs(rows)), np.array([1, 1])) == (NO_THRESHOLD, None, 0)
