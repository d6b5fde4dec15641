"""Statistics of an ensemble on a labelled set, and the label check's ranking (arrays and plain
Python values; the pictures are drawn by `plots_set`).

Calibration follows Guo et al. 2017: images binned by confidence (the probability of the predicted
class) into equal-width bins; a bin's accuracy against its mean confidence is the reliability
diagram, and the expected calibration error (ECE) is the count-weighted mean of their gaps.
"""
import numpy as np

from contest.inspect.features import fit_pca

BINS = 10


def reliability(proba, labels, bins=BINS):
    """{"edges", "count", "confidence", "accuracy" per bin (NaN where empty), "ece"} of
    probabilities (N, K) against labels (N,)."""
    confidence = proba.max(axis=1).astype(np.float64)
    correct = (proba.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, confidence, bins) / count
        accuracy = np.bincount(which, correct, bins) / count
    gaps = np.where(count > 0, np.abs(accuracy - mean_conf), 0.0)
    return {"edges": edges, "count": count, "confidence": mean_conf, "accuracy": accuracy,
            "ece": float(np.sum(gaps * count) / max(1, len(labels)))}


def calibration(mean, members, labels, bins=BINS):
    """{"ensemble": reliability, "member 0": ..., ...}."""
    out = {"ensemble": reliability(mean, labels, bins)}
    for m, proba in enumerate(members):
        out[f"member {m}"] = reliability(proba, labels, bins)
    return out


def agreement(mean, members, labels):
    """{"level": 1..M, "count", "accuracy" (of the ensemble, NaN where no image)}: images by the
    number of members voting for the ensemble's class."""
    predicted = mean.argmax(axis=1)
    votes = np.sum(members.argmax(axis=2) == predicted[None], axis=0)
    m = len(members)
    count = np.bincount(votes, minlength=m + 1)[1:]
    right = np.bincount(votes, predicted == labels, minlength=m + 1)[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = right / count
    return {"level": np.arange(1, m + 1), "count": count, "accuracy": accuracy}


def confusion_pairs(labels, predicted, top=10):
    """[(true class, predicted class, count)] of the most frequent mistakes, most first."""
    wrong = labels != predicted
    pairs, counts = np.unique(np.stack([labels[wrong], predicted[wrong]], axis=1), axis=0,
                              return_counts=True)
    order = np.lexsort((pairs[:, 1], pairs[:, 0], -counts))[:top] if len(counts) else []
    return [(int(pairs[i, 0]), int(pairs[i, 1]), int(counts[i])) for i in order]


def confident_mistakes(mean, labels, top=24):
    """Indices of the misclassified images, most confident first."""
    predicted, confidence = mean.argmax(axis=1), mean.max(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    return wrong[np.argsort(-confidence[wrong], kind="stable")][:top]


def pca_map(features):
    """((N, 2) coordinates on the first two principal components, explained fractions (2,))."""
    mean, components, explained = fit_pca(features, 2)
    return (features - mean) @ components, explained


def label_suspects(index, max_label_proba=0.1):
    """Indices of training images whose given label the ensemble contradicts (it predicts another
    class and gives the label at most `max_label_proba`: it is at least 1 - max_label_proba sure
    the label is wrong), the least probable given label first."""
    contradicted = (index.predicted != index.labels) & (index.label_proba <= max_label_proba)
    suspects = np.flatnonzero(contradicted)
    return suspects[np.lexsort((-index.confidence[suspects], index.label_proba[suspects]))]
