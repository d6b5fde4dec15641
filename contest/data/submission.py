"""Submission files: one label per line (.txt) or Kaggle's `ImageId,Label` CSV with 1-based ids.

Writing is atomic (temporary file, then os.replace), so an interrupted run never leaves a partial
submission. Reading validates strictly, for `contest score`.
"""
from pathlib import Path

import numpy as np

from contest.errors import ContestInputError
from contest.fileio import write_text

FORMATS = ("txt", "csv")
CSV_HEADER = "ImageId,Label"


def format_for(path, fmt=None):
    """`fmt` if given, else "csv" for a .csv path and "txt" otherwise."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}; received: {fmt!r}")
        return fmt
    return "csv" if Path(path).suffix.lower() == ".csv" else "txt"


# suffixes of the files that hold arrays or images, never a submission
NOT_SUBMISSIONS = (".npy", ".npz", ".png", ".json")


def check_submission_path(path, fmt=None):
    """Refuse a submission path named like an array or image file when no --format says why."""
    if fmt is None and Path(path).suffix.lower() in NOT_SUBMISSIONS:
        raise ContestInputError(path, f"-o/--output: a submission is text, .txt (one label per "
                                      f"line) or .csv (Kaggle); the probabilities go to --proba "
                                      f"FILE.npy")


def render_submission(labels, fmt):
    labels = np.asarray(labels, dtype=np.int64)
    if fmt == "csv":
        rows = [CSV_HEADER] + [f"{i},{label}" for i, label in enumerate(labels.tolist(), start=1)]
    else:
        rows = [str(label) for label in labels.tolist()]
    return "\n".join(rows) + "\n"


def write_submission(path, labels, fmt=None):
    """Write predicted class numbers to `path` atomically; returns the format used."""
    fmt = format_for(path, fmt)
    write_text(path, render_submission(labels, fmt))
    return fmt


def read_submission(path):
    """Labels (N,) int64 from a .txt or Kaggle .csv submission, validated line by line."""
    try:
        # utf-8-sig: a byte-order mark (Excel, Notepad) is not part of the first line
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise ContestInputError(path, "not a text submission file") from None
    while lines and not lines[-1].strip():
        lines.pop()
    if lines and lines[0].strip().replace(" ", "") == CSV_HEADER:
        labels = _parse_csv_rows(lines[1:], path)
    else:
        labels = [_parse_label(line, number, path) for number, line in enumerate(lines, start=1)]
    if not labels:
        raise ContestInputError(path, "empty: the submission contains no labels")
    return np.asarray(labels, dtype=np.int64)


def _parse_label(text, line_number, path):
    """A class number: ASCII digits only (isdigit() alone accepts '²', which int() does not)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise ContestInputError(path, f"line {line_number}: {text[:20]!r} is not a class number "
                                      "(0, 1, 2, ...)")
    return int(text)


def _parse_csv_rows(rows, path):
    labels = []
    for number, row in enumerate(rows, start=2):
        fields = row.split(",")
        if len(fields) != 2:
            raise ContestInputError(path, f"line {number}: expected 'ImageId,Label', "
                                          f"got {row[:30]!r}")
        if fields[0].strip() != str(number - 1):
            raise ContestInputError(path, f"line {number}: ImageId {fields[0].strip()[:12]!r}, "
                                          f"expected {number - 1}")
        labels.append(_parse_label(fields[1], number, path))
    return labels
