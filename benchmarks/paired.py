"""Paired comparison of two classifiers on the same images, and cross-fitted ways of combining
members (greedy selection, fitted weights), for benchmarks/trial_vote.py.

A difference between two accuracies measured on the same N images is decided by the discordant
images only: b that A gets right and B wrong, c the reverse. The difference is (b - c) / N and
its standard error sqrt(b + c - (b - c)^2 / N) / N; McNemar's exact test gives the chance of a
split at least that uneven if A and B were equally good (a binomial(b + c, 1/2) tail).
"""
import math

import numpy as np


def add_ensemble_arguments(parser, written_by):
    """The members of an ensemble and, after --versus, those of a second one to compare it with;
    `written_by` names the command that saved the files."""
    parser.add_argument("members", nargs="+", help=f"member files written by {written_by}")
    parser.add_argument("--versus", nargs="+", default=[],
                        help="members of a second ensemble, compared with the first on the same "
                             "images")


def paired_comparison(predicted_a, predicted_b, labels):
    """Accuracies, discordant counts, difference (A - B) and its standard error, McNemar p."""
    right_a = np.asarray(predicted_a) == labels
    right_b = np.asarray(predicted_b) == labels
    n = len(labels)
    b = int(np.count_nonzero(right_a & ~right_b))
    c = int(np.count_nonzero(~right_a & right_b))
    return {"images": n, "accuracy_a": right_a.mean(), "accuracy_b": right_b.mean(),
            "a_only": b, "b_only": c, "difference": (b - c) / n,
            "standard_error": math.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n,
            "mcnemar_p": mcnemar_p(b, c)}


def mcnemar_p(b, c):
    """Two-sided exact McNemar p-value: 2 P(X <= min(b, c)), X ~ binomial(b + c, 1/2), at most 1."""
    total = b + c
    if total == 0:
        return 1.0
    tail = sum(math.comb(total, k) for k in range(min(b, c) + 1)) / 2 ** total
    return min(1.0, 2 * tail)


def standard_error(accuracy, n):
    """Standard error of one accuracy measured on n images."""
    return math.sqrt(accuracy * (1 - accuracy) / n)


def paired_text(predicted_a, predicted_b, labels, names=("A", "B")):
    r = paired_comparison(predicted_a, predicted_b, labels)
    n = r["images"]
    return (f"{names[0]} {100 * r['accuracy_a']:.2f} % (± {100 * standard_error(r['accuracy_a'], n):.2f}), "
            f"{names[1]} {100 * r['accuracy_b']:.2f} % (± {100 * standard_error(r['accuracy_b'], n):.2f}) "
            f"of {n}; right only in {names[0]}: {r['a_only']}, only in {names[1]}: {r['b_only']}; "
            f"difference {100 * r['difference']:+.2f} ± {100 * r['standard_error']:.2f} points "
            f"(paired standard error), McNemar p = {r['mcnemar_p']:.2f}")


def greedy_weights(probs, labels, rounds=None):
    """Caruana's forward selection with replacement: add, round after round, the member whose
    addition gives the average the lowest log-loss on (probs, labels); weights = times chosen."""
    m = len(probs)
    counts = np.zeros(m)
    total = np.zeros_like(probs[0], dtype=np.float64)
    rows = np.arange(len(labels))
    for _ in range(rounds or 2 * m):
        losses = [-np.log((total + p)[rows, labels] / (counts.sum() + 1) + 1e-12).mean()
                  for p in probs]
        best = int(np.argmin(losses))
        counts[best] += 1
        total += probs[best]
    return counts / counts.sum()


def fitted_weights(probs, labels, steps=300, rate=0.5):
    """Weights on the simplex minimising the log-loss of the weighted average on (probs, labels),
    by exponentiated gradient descent from equal weights."""
    m = len(probs)
    weights = np.full(m, 1.0 / m)
    true_probs = probs[:, np.arange(len(labels)), labels].astype(np.float64)   # (M, N)
    for _ in range(steps):
        mixed = weights @ true_probs + 1e-12
        gradient = -(true_probs / mixed).mean(axis=1)
        weights = weights * np.exp(-rate * gradient)
        weights /= weights.sum()
    return weights


def cross_fitted(probs, labels, fit):
    """Predictions of the members combined with weights `fit` found on the other half of the
    images (even indices fitted on the odd ones and the reverse); the two weight vectors."""
    halves = [np.arange(0, len(labels), 2), np.arange(1, len(labels), 2)]
    predicted = np.empty(len(labels), dtype=np.int64)
    found = []
    for scored, fitted_on in (halves, halves[::-1]):
        weights = fit(probs[:, fitted_on], labels[fitted_on])
        predicted[scored] = np.tensordot(weights, probs[:, scored], axes=1).argmax(axis=1)
        found.append(weights)
    return predicted, found


def selection_text(probs, labels):
    """Greedy selection and fitted weights against the plain average, cross-fitted."""
    plain = probs.mean(axis=0).argmax(axis=1)
    lines = []
    for name, fit in (("greedy selection", greedy_weights), ("fitted weights", fitted_weights)):
        predicted, found = cross_fitted(probs, labels, fit)
        shown = " / ".join(" ".join(f"{w:.2f}" for w in weights) for weights in found)
        lines.append(f"{name} (weights on the two halves: {shown}):\n  "
                     + paired_text(predicted, plain, labels, (name, "plain average")))
    return "\n".join(lines)


def vote_accuracy(members, labels):
    """Accuracy of the plain average of `members` (members, images, classes)."""
    return float((members.mean(axis=0).argmax(axis=1) == np.asarray(labels)).mean())


def subset_accuracies(probs, labels, size):
    """Accuracy of the plain average of every `size`-member subset of `probs` (members, images,
    classes), in itertools.combinations order."""
    from itertools import combinations

    return np.array([vote_accuracy(probs[list(members)], labels)
                     for members in combinations(range(len(probs)), size)])


def subsets_text(probs_a, probs_b, labels, size):
    """Mean accuracy over all `size`-member sub-ensembles of A and of B: one draw of five seeds
    moves an ensemble by a few images, and the mean over its subsets leans less on any one
    member (the subsets share members, so this is a steadier figure, not more evidence)."""
    a, b = subset_accuracies(probs_a, labels, size), subset_accuracies(probs_b, labels, size)
    return (f"sub-ensembles of {size}: A {100 * a.mean():.3f} % (mean of {len(a)}), "
            f"B {100 * b.mean():.3f} % (mean of {len(b)}), "
            f"difference {100 * (a.mean() - b.mean()):+.3f} points")


def mixed_accuracies(probs_a, probs_b, labels, size):
    """Accuracy of every `size`-member ensemble of distinct seeds that takes each seed's member
    from A or from B, with both present: `probs_a[i]` and `probs_b[i]` are the same seed's two
    members (members, images, classes)."""
    from itertools import combinations, product

    sides = (probs_a, probs_b)
    return np.array([vote_accuracy(np.stack([sides[side][seed] for side, seed in zip(pick, seeds)]),
                                   labels)
                     for seeds in combinations(range(len(probs_a)), size)
                     for pick in product((0, 1), repeat=size) if 0 < sum(pick) < size])


def mixed_text(probs_a, probs_b, labels, size):
    """The mean of `mixed_accuracies` beside the mean of B's own `size`-member sub-ensembles."""
    mixed = mixed_accuracies(probs_a, probs_b, labels, size)
    own = subset_accuracies(probs_b, labels, size)
    return (f"mixed ensembles of {size} (distinct seeds, members of A and B): "
            f"{100 * mixed.mean():.3f} % (mean of {len(mixed)}), B alone {100 * own.mean():.3f} %, "
            f"difference {100 * (mixed.mean() - own.mean()):+.3f} points")
