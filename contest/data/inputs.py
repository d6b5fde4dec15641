"""The user's files: images to predict (read by the one decoder, contest.data.decode) and labels
to score against. Anything unusable raises ContestInputError with one line naming the file and
the problem; pickled arrays are never loaded.
"""
from pathlib import Path

import numpy as np

from contest.data.decode import decode_file, open_input, read_array_file
from contest.errors import ContestInputError
from contest.data.submission import read_submission


def check_file(path):
    """`path` as a Path if it is an existing, non-empty regular file."""
    open_input(path).close()
    return Path(path)


def load_images(path, spec):
    """Checked images of a file in any form contest.data.decode reads, for `spec` (contest's
    layout: (N, H, W) grey or (N, H, W, C) colour, uint8 or float32 0..1), N >= 1."""
    return decode_file(path, spec)


def load_labels(path, n_expected=None, classes=None):
    """Integer labels 0..classes-1 of shape (N,) from an .npy (or .txt, one per line) file;
    `classes` None: any class number >= 0 (scoring a submission, which knows no ensemble)."""
    from contest.data.formats import check_labels

    path = Path(path)
    if path.suffix.lower() == ".npy":
        labels = read_array_file(path)
    elif path.suffix.lower() == ".txt":
        labels = read_submission(check_file(path))
    else:
        raise ContestInputError(path, f"unsupported labels file type {path.suffix!r}; use .npy")
    if np.asarray(labels).dtype.kind not in "ui":
        raise ContestInputError(path, f"labels must be integers, got dtype {labels.dtype}")
    labels = check_labels(labels, path, classes=classes, training=False)
    if n_expected is not None and len(labels) != n_expected:
        raise ContestInputError(path, f"{len(labels)} labels, expected {n_expected}")
    return labels
