"""Loading and validating the user's files: images to predict and labels to score against.

Accepted images: `.npy` of shape (N, 28, 28), (N, 784) or (N, 1, 28, 28) (a single (28, 28) or
(784,) image too), uint8/integer 0-255 or float 0-1; a Kaggle-style `.csv` (header pixel0..pixel783,
optionally a leading label column); a 28x28 `.png` in any mode contest.data.images reads (8- or
16-bit greyscale, palette, RGB, with or without alpha; a dark digit on a light background is
inverted to MNIST's light-on-dark). They come back as (N, 28, 28) uint8 (integer input) or float32 in [0, 1]
(float input), ready for `contest.data.preprocess.normalise`. Anything unusable raises ContestInputError
with one line naming the file and the problem; pickled arrays are never loaded.
"""
import warnings
from pathlib import Path

import numpy as np

from contest.errors import ContestInputError

IMAGE_SUFFIXES = (".npy", ".csv", ".png")
_FLOAT_TOLERANCE = 1e-6
MAX_NPY_BYTES = 4 * 2**30  # read from the header before allocating: 4 GiB is ~700x full MNIST


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
    data_bytes = int(np.prod(shape, dtype=object)) * dtype.itemsize  # exact, no overflow
    if data_bytes > MAX_NPY_BYTES:
        raise ContestInputError(path, f"array of {data_bytes / 2**30:.1f} GiB refused: the limit "
                                      f"is {MAX_NPY_BYTES / 2**30:.0f} GiB (header shape {shape})")
    expected = offset + data_bytes
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
    shape = array.shape
    if shape in ((28, 28), (784,)):
        return array.reshape(1, 28, 28)
    if (array.ndim == 2 and shape[1] == 784) or (array.ndim == 3 and shape[1:] == (28, 28)) or \
            (array.ndim == 4 and shape[1:] == (1, 28, 28)):
        return array.reshape(-1, 28, 28)
    raise ContestInputError(path, f"wrong dimensions {shape}: expected images of shape "
                                  "(N, 28, 28), (N, 784) or (N, 1, 28, 28)")


def _check_values(images, path):
    """uint8 for integer pixels 0..255, float32 for float pixels in [0, 1]; refuse all else."""
    if len(images) == 0:
        raise ContestInputError(path, "empty: the file contains no images")
    if images.dtype.kind in "ui":
        lo, hi = int(images.min()), int(images.max())
        if lo < 0 or hi > 255:
            raise ContestInputError(path, "integer pixel values must lie in 0..255; "
                                          f"found {lo}..{hi}")
        return images.astype(np.uint8, copy=False)
    bad = int(np.count_nonzero(~np.isfinite(images)))
    if bad:
        raise ContestInputError(path, f"contains {bad} NaN or infinite pixel values")
    lo, hi = float(images.min()), float(images.max())
    if lo < -_FLOAT_TOLERANCE or hi > 1 + _FLOAT_TOLERANCE:
        raise ContestInputError(path, "float pixel values must lie in [0, 1]; "
                                      f"found [{lo:g}, {hi:g}] (use uint8 for 0..255)")
    return np.clip(images, 0.0, 1.0).astype(np.float32, copy=False)


def _csv_header(path):
    try:
        with open(path, encoding="utf-8") as handle:
            header = handle.readline()
    except UnicodeDecodeError:
        raise ContestInputError(path, "not a text CSV file") from None
    names = [name.strip().strip('"') for name in header.strip().split(",")]
    pixels = [f"pixel{i}" for i in range(784)]
    if names == pixels or names == ["label"] + pixels:
        return names[0] == "label"
    raise ContestInputError(path, "expected a Kaggle CSV header pixel0,...,pixel783 (optionally "
                                  f"'label' first); found {header[:40].strip()!r}")


def _load_csv(path):
    """Kaggle test.csv (or train.csv, whose label column is ignored) as (N, 28, 28) pixels."""
    has_label = _csv_header(path)
    data = _read_csv_numbers(path)
    columns = 785 if has_label else 784
    if data.size and data.shape[1] != columns:
        raise ContestInputError(path, f"expected {columns} columns per row, found {data.shape[1]}")
    pixels = data[:, 1:] if has_label else data
    if pixels.dtype.kind == "f" and pixels.size and np.all(np.isfinite(pixels)) \
            and np.all(pixels == np.round(pixels)):
        pixels = pixels.astype(np.int64)  # integral values: the 0..255 scale of Kaggle files
    return pixels.reshape(-1, 28, 28)


def _read_csv_numbers(path):
    """The CSV body as int64 (Kaggle's integer pixels, parsed ~6x faster) or else float64."""
    error = None
    for dtype in (np.int64, np.float64):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # loadtxt warns on a header-only file
                return np.loadtxt(path, delimiter=",", skiprows=1, dtype=dtype, ndmin=2)
        except (ValueError, UnicodeDecodeError) as exc:
            error = exc
    raise ContestInputError(path, f"bad CSV data ({str(error).splitlines()[0]})") from None


def _load_png(path):
    """A 28x28 PNG as (1, 28, 28) uint8, light digit on dark background like MNIST."""
    from contest.data.images import read_png

    grey = read_png(path, (28, 28))
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if border.mean() > 127:
        grey = 255 - grey
    return grey.reshape(1, 28, 28)


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
