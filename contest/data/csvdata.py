"""Kaggle-style CSV images: a header, then one row per image with one column per pixel.

The pixel columns are those named pixel0, pixel1, ... when the header has such names, else every
column except the label column and id columns (id, ImageId, index); their count gives the square
image size (784 -> 28x28, 1024 -> 32x32). A UTF-8 byte-order mark and CRLF line ends are accepted.
The body is parsed by NumPy in chunks of CHUNK_ROWS lines (never with `csv` row by row); a bad row
is reported with its line number.
"""
import itertools
import math
import re
import warnings
from pathlib import Path

import numpy as np

from contest.errors import ContestInputError

CHUNK_ROWS = 5000
ID_COLUMNS = {"id", "imageid", "image_id", "index"}
_PIXEL = re.compile(r"pixel(\d+)", re.IGNORECASE)


def _header(handle, path):
    try:
        line = handle.readline()
    except UnicodeDecodeError:
        raise ContestInputError(path, "not a UTF-8 text CSV file") from None
    names = [name.strip().strip('"').strip() for name in line.rstrip("\r\n").split(",")]
    if not line.strip() or len(names) < 2:
        raise ContestInputError(path, "no CSV header line (expected e.g. label,pixel0,pixel1,...)")
    return names


def _pixel_columns(names, label_index, path):
    """Indices of the pixel columns, in pixel order."""
    numbered = [(int(m.group(1)), i) for i, name in enumerate(names)
                if (m := _PIXEL.fullmatch(name))]
    if numbered:
        numbered.sort()
        if [number for number, _ in numbered] != list(range(len(numbered))):
            raise ContestInputError(path, "pixel columns are not numbered pixel0..pixel"
                                          f"{len(numbered) - 1} without gaps")
        return [i for _, i in numbered]
    return [i for i, name in enumerate(names)
            if i != label_index and name.lower() not in ID_COLUMNS]


def square_side(count, path):
    side = math.isqrt(count)
    if side * side != count:
        raise ContestInputError(path, f"{count} pixel columns is not a square image "
                                      "(784 = 28x28, 1024 = 32x32, ...)")
    return side


def _parse_chunk(lines, first_line, columns, path):
    """A chunk of body lines as a 2-D array (int64, or float64 when a cell is not an integer)."""
    for dtype in (np.int64, np.float64):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = np.loadtxt(lines, delimiter=",", dtype=dtype, ndmin=2)
            break
        except ValueError:
            continue
    else:
        raise ContestInputError(path, _bad_row(lines, first_line, columns))
    if data.shape[1] != columns:
        raise ContestInputError(path, _bad_row(lines, first_line, columns))
    return data


def _bad_row(lines, first_line, columns):
    """One line describing the first ragged or non-numeric row among `lines`."""
    for offset, line in enumerate(lines):
        cells = line.rstrip("\r\n").split(",")
        where = f"line {first_line + offset}"
        if len(cells) != columns:
            return (f"bad CSV data: {where} has {len(cells)} cells, expected {columns} columns "
                    "as in the header (ragged row)")
        for number, cell in enumerate(cells):
            try:
                float(cell)
            except ValueError:
                return (f"bad CSV data: {where}, column {number + 1}: non-numeric cell "
                        f"{cell.strip()[:20]!r}")
    return f"bad CSV data in lines {first_line}-{first_line + len(lines) - 1}"


def _compact(pixels):
    """A chunk's pixels as uint8 when they are integers 0..255 (Kaggle's), float32 when floats:
    a 60,000-row file then needs 47 MB, not the 377 MB of int64 cells."""
    if pixels.dtype.kind == "i" and pixels.size and pixels.min() >= 0 and pixels.max() <= 255:
        return pixels.astype(np.uint8)
    return pixels.astype(np.float32) if pixels.dtype.kind == "f" else pixels


def read_csv_table(path, label_column=None):
    """(pixels (N, P) int64 or float64, labels or None, pixel column count) of a CSV file.

    `label_column` None: take a column named `label` if present (predict's input may have one).
    """
    path = Path(path)
    with open(path, encoding="utf-8-sig", newline=None) as handle:
        names = _header(handle, path)
        wanted = label_column or "label"
        label_index = names.index(wanted) if wanted in names else None
        if label_index is None and label_column is not None:
            raise ContestInputError(path, f"no label column {label_column!r} in the header "
                                          f"(columns: {', '.join(names[:5])}, ...)")
        pixels_at = _pixel_columns(names, label_index, path)
        chunks, labels, line_number = [], [], 2
        body = (line for line in handle if line.strip())
        while lines := list(itertools.islice(body, CHUNK_ROWS)):
            data = _parse_chunk(lines, line_number, len(names), path)
            chunks.append(_compact(data[:, pixels_at]))
            if label_index is not None:
                labels.append(data[:, label_index])
            line_number += len(lines)
    if not chunks:
        raise ContestInputError(path, "empty: the CSV file has a header but no rows")
    pixels = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    found = None if label_index is None else np.concatenate(labels)
    return pixels, found, len(pixels_at)


def integral_pixels(pixels):
    """Floats that are all whole numbers become int64 (the 0..255 scale of Kaggle files)."""
    if pixels.dtype.kind == "f" and np.all(np.isfinite(pixels)) and \
            np.all(pixels == np.round(pixels)):
        return pixels.astype(np.int64)
    return pixels


def read_labelled_csv(path, label_column="label"):
    """(images (N, S, S), labels) of a Kaggle train.csv; values checked by the caller."""
    pixels, labels, count = read_csv_table(path, label_column or "label")
    side = square_side(count, path)
    if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
        raise ContestInputError(path, f"labels in column {label_column!r} must be integers")
    return integral_pixels(pixels).reshape(-1, side, side), labels
