"""How alike the members' mistakes are: for members A and B, how many of A's mistakes B makes too.

Averaging fixes an image only when the members that get it right outweigh those that get it
wrong, so an ensemble gains little over its members when they all miss the same images. `contest
evaluate` prints, after the members' accuracies, the matrix of shared mistakes (row A, column
B: how many of A's mistakes B makes too; the diagonal: A's own), the fraction of a member's
mistakes another member makes too (mean over the ordered pairs, and its range), and a table of
images by how many members get them wrong.
That table also says how many of those images the ensemble (the average) gets wrong: images
missed by one member of five are usually put right, those missed by all never.
"""
import numpy as np

from contest.cli import display


def member_mistakes(member_predictions, labels):
    """(M, N) bool: member m gets image n wrong. `member_predictions`: (M, N) labels or
    (M, N, classes) probabilities."""
    predicted = np.asarray(member_predictions)
    if predicted.ndim == 3:
        predicted = predicted.argmax(axis=2)
    return predicted != np.asarray(labels)[None, :]


def shared_mistakes(wrong):
    """(M, M) int64: entry [a, b] is how many images members a and b both get wrong; the
    diagonal holds each member's own mistakes."""
    as_int = np.asarray(wrong, dtype=np.int64)
    return as_int @ as_int.T


def shared_fractions(shared):
    """[shared[a, b] / shared[a, a] for every ordered pair a != b of members with mistakes]."""
    own = np.diag(shared)
    return [shared[a, b] / own[a] for a in range(len(shared)) for b in range(len(shared))
            if a != b and own[a] > 0]


def mistakes_by_count(wrong, ensemble_wrong):
    """(images, ensemble wrong): for k = 0..M, how many images exactly k members get wrong and
    how many of those the ensemble gets wrong; int64 arrays of length M + 1."""
    wrong = np.asarray(wrong)
    counts = wrong.sum(axis=0)
    length = len(wrong) + 1
    images = np.bincount(counts, minlength=length)
    missed = np.bincount(counts[np.asarray(ensemble_wrong)], minlength=length)
    return images, missed


def error_overlap(member_predictions, labels, ensemble_predicted):
    """The overlap as plain data: shared-mistake matrix, mean fraction shared (None when no pair
    of members has mistakes), images and ensemble mistakes by how many members get them wrong."""
    wrong = member_mistakes(member_predictions, labels)
    shared = shared_mistakes(wrong)
    fractions = shared_fractions(shared)
    images, missed = mistakes_by_count(wrong, np.asarray(ensemble_predicted) != np.asarray(labels))
    return {"shared": shared.tolist(),
            "mean_shared_fraction": float(np.mean(fractions)) if fractions else None,
            "shared_fraction_range": [float(min(fractions)), float(max(fractions))]
            if fractions else None,
            "images_by_members_wrong": images.tolist(),
            "ensemble_wrong_by_members_wrong": missed.tolist()}


def member_overlap(member_predictions, labels, ensemble_predicted):
    """error_overlap for two or more members, None for one (no pair to compare)."""
    if len(member_predictions) < 2:
        return None
    return error_overlap(member_predictions, labels, ensemble_predicted)


def overlap_text(member_predictions, labels, ensemble_predicted):
    """The overlap as lines of text for `contest evaluate` ("" for a single member)."""
    overlap = member_overlap(member_predictions, labels, ensemble_predicted)
    return "" if overlap is None else overlap_lines(overlap)


def overlap_lines(overlap):
    """An error_overlap dict as lines of text: the matrix, the mean fraction, the counts."""
    shared = overlap["shared"]
    rows = [[str(a)] + [str(v) for v in row] for a, row in enumerate(shared)]
    lines = ["shared mistakes (row A, column B: how many of A's mistakes B makes too; "
             "diagonal: A's own)", display.table(["member"] + [str(b) for b in range(len(shared))],
                                                rows)]
    if overlap["mean_shared_fraction"] is not None:
        low, high = overlap["shared_fraction_range"]
        lines.append(f"a member's mistakes made by another member too: "
                     f"{100 * overlap['mean_shared_fraction']:.0f} % on average "
                     f"(pairs {100 * low:.0f}-{100 * high:.0f} %)")
    counts = range(1, len(shared) + 1)
    lines.append(display.table(
        ["members wrong"] + [str(k) for k in counts],
        [["images"] + [str(overlap["images_by_members_wrong"][k]) for k in counts],
         ["ensemble wrong"] + [str(overlap["ensemble_wrong_by_members_wrong"][k])
                               for k in counts]]))
    return "\n".join(lines)
