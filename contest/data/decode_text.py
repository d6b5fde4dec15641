"""Text forms of contest.data.decode: Kaggle-style CSV and JSON lists of numbers.

The value scale is decided by the text, as the .npy form decides it by the dtype: numbers written
as integers ("0", "255") are pixels on the 0..255 scale; as soon as one number of the input is
written as a float ("0.0", "1.5e-1", "nan") the whole input is floats on the 0..1 scale (NumPy's
`savetxt` default writes 0/1 images as 0.000000000000000000e+00, so they are read as 0..1 floats,
never as nearly black 0..255 integers). A UTF-8 byte-order mark is accepted in both forms.

CSV: a header, then one row per image. The pixel columns are those named pixel0, pixel1, ... when
the header has such names, else every column but the label and id columns (id, ImageId, index).
The body is parsed by NumPy in chunks of CHUNK_ROWS lines; a bad row is reported by line number.

JSON: a list nested up to MAX_DEPTH deep (N, C, H, W), or {"images": that list}. It is checked
and converted without building Python objects per number (a 100 MB body would take 1.5 GB as
Python floats): the structure is compared with the one a regular array of its first element's
shape would have, and the numbers are parsed by NumPy in one pass. Deep nesting is refused from
the leading brackets, so nothing recurses.
"""
import io
import itertools
import re
import warnings

import numpy as np

from contest.errors import ContestInputError

CHUNK_ROWS = 5000
ID_COLUMNS = {"id", "imageid", "image_id", "index"}
MAX_DEPTH = 4
BOM = b"\xef\xbb\xbf"
_PIXEL = re.compile(r"pixel(\d+)", re.IGNORECASE)
_FLOAT_MARKS = (b".", b"e", b"E", b"n", b"N", b"i", b"I")
_JSON_NUMBER_CHARS = b"0123456789+-.eEnaNIfity"
_IMAGES_KEY = re.compile(rb'\s*"images"\s*:\s*')
_TO_ZERO = bytes.maketrans(_JSON_NUMBER_CHARS, b"0" * len(_JSON_NUMBER_CHARS))
_TO_SPACE = bytes.maketrans(b"[],", b"   ")
PIECE = 1 << 18   # bytes of JSON converted at a time


# ---- CSV ----------------------------------------------------------------------------------------

def _header(handle, source):
    try:
        line = handle.readline()
    except UnicodeDecodeError:
        raise ContestInputError(source, "not a UTF-8 text CSV file") from None
    names = [name.strip().strip('"').strip() for name in line.rstrip("\r\n").split(",")]
    if not line.strip() or len(names) < 2 or all(_is_number(name) for name in names):
        raise ContestInputError(source, "no CSV header line (expected e.g. "
                                        "label,pixel0,pixel1,...)")
    return names


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _pixel_columns(names, label_index, source):
    """Indices of the pixel columns, in pixel order."""
    numbered = [(int(m.group(1)), i) for i, name in enumerate(names)
                if (m := _PIXEL.fullmatch(name))]
    if numbered:
        numbered.sort()
        if [number for number, _ in numbered] != list(range(len(numbered))):
            raise ContestInputError(source, "pixel columns are not numbered pixel0..pixel"
                                            f"{len(numbered) - 1} without gaps")
        return [i for _, i in numbered]
    return [i for i, name in enumerate(names)
            if i != label_index and name.lower() not in ID_COLUMNS]


def _parse_chunk(lines, first_line, columns, source):
    """A chunk of body lines as a 2-D array: int64 when every cell is written as an integer,
    else float64."""
    for dtype in (np.int64, np.float64):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = np.loadtxt(lines, delimiter=",", dtype=dtype, ndmin=2)
            break
        except (ValueError, OverflowError):
            continue
    else:
        raise ContestInputError(source, _bad_row(lines, first_line, columns))
    if data.shape[1] != columns:
        raise ContestInputError(source, _bad_row(lines, first_line, columns))
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
            if not _is_number(cell):
                return (f"bad CSV data: {where}, column {number + 1}: non-numeric cell "
                        f"{cell.strip()[:20]!r}")
    return f"bad CSV data in lines {first_line}-{first_line + len(lines) - 1}"


def _compact(pixels):
    """Integer pixels 0..255 as uint8 (a 60,000-row file then needs 47 MB, not 377 MB)."""
    if pixels.dtype.kind == "i" and pixels.size and pixels.min() >= 0 and pixels.max() <= 255:
        return pixels.astype(np.uint8)
    return pixels.astype(np.float32) if pixels.dtype.kind == "f" else pixels


def read_csv_table(payload, limits, label_column=None):
    """(pixels (N, P), labels or None, P) of a CSV input; pixels uint8/int64 when the text is
    integers, float32 when any cell is written as a float. `label_column` None: a column named
    `label` is taken if present (a train.csv given to predict)."""
    source = payload.source
    handle = io.TextIOWrapper(payload.stream, encoding="utf-8-sig", newline=None)
    try:
        names = _header(handle, source)
        label_index = _label_index(names, label_column, source)
        pixels_at = _pixel_columns(names, label_index, source)
        chunks, labels = _read_rows(handle, names, label_index, pixels_at, source, limits)
    except UnicodeDecodeError:
        raise ContestInputError(source, "not a UTF-8 text CSV file") from None
    finally:
        handle.detach()
    if not chunks:
        raise ContestInputError(source, "empty: the CSV file has a header but no rows")
    if any(chunk.dtype.kind == "f" for chunk in chunks):   # the text decides: one float, all
        chunks = [chunk.astype(np.float32, copy=False) for chunk in chunks]
    pixels = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    found = None if label_index is None else np.concatenate(labels)
    return pixels, found, len(pixels_at)


def _label_index(names, label_column, source):
    wanted = label_column or "label"
    if wanted in names:
        return names.index(wanted)
    if label_column is not None:
        raise ContestInputError(source, f"no label column {label_column!r} in the header "
                                        f"(columns: {', '.join(names[:5])}, ...)")
    return None


def _read_rows(handle, names, label_index, pixels_at, source, limits):
    chunks, labels, line_number, rows = [], [], 2, 0
    body = (line for line in handle if line.strip())
    while lines := list(itertools.islice(body, CHUNK_ROWS)):
        rows += len(lines)
        limits.check_images(rows, source)
        limits.check_bytes(rows * len(pixels_at) * 4, source, "CSV data")
        data = _parse_chunk(lines, line_number, len(names), source)
        chunks.append(_compact(data[:, pixels_at]))
        if label_index is not None:
            labels.append(data[:, label_index])
        line_number += len(lines)
    return chunks, labels


# ---- JSON ---------------------------------------------------------------------------------------

def read_json(payload, limits):
    """The numbers of a JSON input as an int64 or float64 array of the lists' shape."""
    source = payload.source
    text = payload.read_all(limits, "JSON body").removeprefix(BOM).strip()
    lists = _json_lists(text, source)
    depth = len(lists) - len(lists.lstrip(b"["))
    if depth > MAX_DEPTH:
        raise ContestInputError(source, f"JSON lists nested {depth} deep; images are at most "
                                        f"{MAX_DEPTH} levels (N, C, H, W)")
    dtype = np.float64 if any(mark in lists for mark in _FLOAT_MARKS) else np.int64
    structure, numbers = [], []
    for piece in _pieces(lists):   # small pieces: bounded memory, and other threads get the GIL
        structure.append(_structure(piece))
        numbers.append(_numbers(piece, dtype, source))
    shape = _regular_shape(b"".join(structure), depth, source)
    count = int(np.prod(shape))
    limits.check_bytes(count * 8, source, "JSON numbers")
    numbers = np.concatenate(numbers)
    if numbers.size != count:
        raise ContestInputError(source, "not valid JSON: a number could not be read "
                                        "(or two numbers without a comma between them)")
    return numbers.reshape(shape)


def _json_lists(text, source):
    """The bytes of the list: the whole text, or the value of {"images": ...}."""
    if not text:
        raise ContestInputError(source, "empty: no images")
    if text[:1] == b"{":
        key = _IMAGES_KEY.match(text, 1)
        if key is None or text[-1:] != b"}":
            raise ContestInputError(source, 'JSON object without an "images" key (send '
                                            '{"images": [...]} or a bare list)')
        text = text[key.end():-1].strip()
    if text[:1] != b"[":
        raise ContestInputError(source, "expected JSON lists of pixel values")
    stray = text.translate(None, _JSON_NUMBER_CHARS + b"[], \t\r\n")
    if stray:
        kind = "a string" if stray[:1] == b'"' else f"{stray[:1].decode('latin-1')!r}"
        raise ContestInputError(source, f"JSON lists must hold only numbers (found {kind}); "
                                        "non-numeric dtype refused")
    return text


def _pieces(lists):
    """`lists` cut into pieces of about PIECE bytes, each ending at a comma or bracket."""
    start = 0
    while start < len(lists):
        stop = len(lists) if start + PIECE >= len(lists) else \
            max(lists.find(b",", start + PIECE), start + PIECE) + 1
        yield lists[start:stop]
        start = stop


def _structure(piece):
    """The piece with every number as one "0" and no whitespace: b"[[0,0],[0,0]]"."""
    marked = np.frombuffer(piece.translate(_TO_ZERO, b" \t\r\n"), dtype=np.uint8)
    digit = marked == ord("0")
    keep = ~digit
    keep[1:] |= ~digit[:-1]
    keep[:1] = True   # a piece starts after a comma or bracket
    return marked[keep].tobytes()


def _numbers(piece, dtype, source):
    spaced = piece.translate(_TO_SPACE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return np.fromstring(spaced, dtype=dtype, sep=" ")
    except (ValueError, DeprecationWarning, OverflowError):
        raise ContestInputError(source, "not valid JSON: a number could not be read") from None


def _regular_shape(structure, depth, source):
    """The shape of the regular array that `structure` writes, from its first element at
    every level; refused unless the whole structure is exactly that array's."""
    if b"0" not in structure:
        raise ContestInputError(source, "empty: no images")
    unit, shape = b"0", []
    for level in range(depth, 0, -1):
        count, at = 0, level
        while structure.startswith(unit, at):
            count, at = count + 1, at + len(unit)
            if structure[at:at + 1] != b",":
                break
            at += 1
        if count == 0 or structure[at:at + 1] != b"]":
            raise _ragged(source)
        shape.insert(0, count)
        unit = b"[" + b",".join([unit] * count) + b"]"
    if structure != unit:
        raise _ragged(source)
    return tuple(shape)


def _ragged(source):
    return ContestInputError(source, "ragged or malformed JSON lists: every image must have the "
                                     "same shape (not valid JSON, or lists of unequal lengths)")
