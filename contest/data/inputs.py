"""Loading and validating the user's files: images to predict and labels to score against.

Accepted images: `.npy` of shape (N, 28, 28), (N, 784) or (N, 1, 28, 28) (a single (28, 28) or
(784,) image too), uint8/integer 0-255 or float 0-1; a Kaggle-style `.csv` (header pixel0..pixel783,
optionally a leading label column); a `.png` (a dark digit on a light background is inverted
to MNIST's light-on-dark; another size than 28x28 goes through the MNIST recipe of
`contest.data.images`). They come back as (N, 28, 28) uint8 (integer input) or float32 in [0, 1]
(float input), ready for `contest.data.preprocess.normalise`. Anything unusable raises ContestInputError
with one line naming the file and the problem; pickled arrays are never loaded.
"""
from pathlib import Path

import numpy as np

from contest.data.images import as_image_stack, check_values, decode_png, parse_csv
from contest.errors import ContestInputError

IMAGE_SUFFIXES = (".npy", ".csv", ".png")


def check_file(path):
    """`path` as a Path if it is an existing, non-empty regular file."""
    path = Path(path)
    if not path.exists():
        raise ContestInputError(path, "file not found")
    if path.is_dir():
        raise ContestInputError(path, "is a directory, expected a file")
    if not path.is_file():
        raise ContestInputError(path, "is not a regular file")
    if path.stat().st_size == 0:
        raise ContestInputError(path, "file is empty (0 bytes)")
    return path


def load_images(path):
    """Images of an .npy, .csv or .png file as (N, 28, 28) uint8 or float32 in [0, 1], N >= 1."""
    path = check_file(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        images = _as_images(read_npy(path), path)
    elif suffix == ".csv":
        images = _load_csv(path)
    elif suffix == ".png":
        images = _load_png(path)
    else:
        raise ContestInputError(path, f"unsupported file type {suffix or '(none)'!r}; "
                                      f"expected one of {', '.join(IMAGE_SUFFIXES)}")
    return _check_values(images, path)


def read_npy(path):
    """A numeric array from an .npy file, refusing object (pickled) data and truncated files."""
    path = check_file(path)
    with open(path, "rb") as handle:
        shape, dtype, offset = _npy_header(handle, path)
    if dtype.hasobject:
        raise ContestInputError(path, "object (pickled) array refused; save a numeric array")
    if dtype.kind not in "uif":
        raise ContestInputError(path, f"non-numeric dtype {dtype}; expected integers or floats")
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if path.stat().st_size < expected:
        raise ContestInputError(path, f"truncated .npy file: {path.stat().st_size} bytes, "
                                      f"header needs {expected}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ContestInputError(path, f"unreadable .npy file ({exc})") from None


def _npy_header(handle, path):
    fmt = np.lib.format
    try:
        version = fmt.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(handle)
        else:
            shape, _, dtype = fmt.read_array_header_2_0(handle)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise ContestInputError(path, f"not a valid .npy file ({exc})") from None
    return shape, np.dtype(dtype), handle.tell()


def _as_images(array, path):
    """(N, 28, 28) view of an array in any accepted layout."""
    return as_image_stack(array, path).reshape(-1, 28, 28)


def _check_values(images, path):
    """uint8 for integer pixels 0..255, float32 for float pixels in [0, 1]; refuse all else."""
    return check_values(images, path)


def _load_csv(path):
    """Kaggle test.csv (or train.csv, whose label column is ignored) as (N, 28, 28) pixels."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ContestInputError(path, "not a text CSV file") from None
    return parse_csv(text, path).reshape(-1, 28, 28)


def _load_png(path):
    """A PNG as (1, 28, 28) uint8, light digit on dark background like MNIST; another size
    goes through the MNIST recipe (crop to the ink, scale, centre)."""
    return decode_png(path.read_bytes(), path).reshape(1, 28, 28)


def load_labels(path, n_expected=None):
    """Integer labels 0-9 of shape (N,) from an .npy (or .txt, one label per line) file."""
    path = check_file(path)
    if path.suffix.lower() == ".npy":
        labels = read_npy(path)
    elif path.suffix.lower() == ".txt":
        from contest.submission import read_submission

        labels = read_submission(path)
    else:
        raise ContestInputError(path, f"unsupported labels file type {path.suffix!r}; use .npy")
    return _check_labels(labels, path, n_expected)


def _check_labels(labels, path, n_expected):
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ContestInputError(path, f"wrong dimensions {labels.shape}: "
                                      "expected labels of shape (N,)")
    if labels.dtype.kind not in "ui":
        raise ContestInputError(path, f"labels must be integers, got dtype {labels.dtype}")
    if len(labels) == 0:
        raise ContestInputError(path, "empty: the file contains no labels")
    if labels.min() < 0 or labels.max() > 9:
        raise ContestInputError(path, "labels must lie in 0..9; "
                                      f"found {labels.min()}..{labels.max()}")
    if n_expected is not None and len(labels) != n_expected:
        raise ContestInputError(path, f"{len(labels)} labels, expected {n_expected}")
    return labels.astype(np.int64)
