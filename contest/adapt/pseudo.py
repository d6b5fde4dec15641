"""Pseudo-labels from the ensemble's agreement, and the confidence threshold chosen on validation.

An image gets a pseudo-label when every member's most probable class is the same and the mean
probability of that class (the ensemble's confidence) is at least the threshold. The threshold is
the lowest confidence at which, on the ensemble's own labelled validation split, the images passing
the same rule are labelled right at least `precision` of the time (99.5 % by default): a property of
the teacher measured on data it did not train on, never on the contest images.
"""
from dataclasses import dataclass

import numpy as np

from contest.modeldir.ensemble import average

NO_THRESHOLD = float("inf")   # no threshold reaches the precision: nothing gets a pseudo-label


@dataclass(frozen=True)
class Votes:
    """The ensemble's view of a set of images: labels, confidences and whether members agree."""
    labels: np.ndarray        # (N,) ensemble argmax
    confidence: np.ndarray    # (N,) mean probability of that class, float64
    agree: np.ndarray         # (N,) bool: every member's argmax equals the ensemble's

    @classmethod
    def of(cls, member_probabilities):
        """Votes of (M, N, K) member probabilities."""
        mean = average(member_probabilities)
        labels = mean.argmax(axis=1)
        agree = np.all(member_probabilities.argmax(axis=2) == labels, axis=0)
        confidence = mean[np.arange(len(labels)), labels].astype(np.float64)
        return cls(labels, confidence, agree)

    @property
    def agreement(self):
        return float(self.agree.mean()) if len(self.agree) else 0.0

    def selected(self, threshold):
        """Boolean mask of the images that get a pseudo-label at `threshold`."""
        return self.agree & (self.confidence >= threshold)


def choose_threshold(votes, truth, precision=0.995):
    """(threshold, precision reached, images passing) on labelled validation `votes`.

    Candidates are the confidences of the agreeing validation images; the lowest one whose
    passing images are right at least `precision` of the time is chosen. (NO_THRESHOLD, None, 0)
    when none is.
    """
    order = np.argsort(-votes.confidence[votes.agree], kind="stable")
    confidence = votes.confidence[votes.agree][order]
    right = (votes.labels[votes.agree] == np.asarray(truth)[votes.agree])[order]
    if len(confidence) == 0:
        return NO_THRESHOLD, None, 0
    passing = np.arange(1, len(confidence) + 1)
    reached = np.cumsum(right) / passing
    # ties: a threshold admits every image of that confidence, so only the last of a run counts
    last_of_run = np.append(confidence[1:] != confidence[:-1], True)
    ok = np.flatnonzero((reached >= precision) & last_of_run)
    if len(ok) == 0:
        return NO_THRESHOLD, None, 0
    k = ok[-1]
    return float(confidence[k]), float(reached[k]), int(passing[k])


def class_counts(labels, num_classes):
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).tolist()
