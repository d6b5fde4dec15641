"""`contest evaluate --view per-class`: how the ensemble does on each class.

One row per class: its number of images, the share of them the ensemble labels right (recall),
the share of the images it labels with that class that are right (precision), and the class it
most often takes them for instead. A class far below the others says where more or different
training images would help.
"""
import numpy as np

from contest.cli.display import percent, table


def per_class_text(evaluation):
    """The per-class table of an evaluate.views.Evaluation."""
    spec, labels = evaluation.ensemble.spec, np.asarray(evaluation.labels)
    predicted = evaluation.mean.argmax(axis=1)
    matrix = np.zeros((spec.classes, spec.classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    rows = [_row(spec, matrix, k) for k in range(spec.classes)]
    return "per class:\n" + table(["class", "images", "recall", "precision", "mistaken for"], rows)


def _row(spec, matrix, k):
    count, chosen, right = matrix[k].sum(), matrix[:, k].sum(), matrix[k, k]
    wrong = matrix[k].copy()
    wrong[k] = 0
    confused = f"{spec.label(int(wrong.argmax()))} ({wrong.max()})" if wrong.max() else "-"
    return [spec.label(k), str(count), percent(right / count) if count else "-",
            percent(right / chosen) if chosen else "-", confused]
