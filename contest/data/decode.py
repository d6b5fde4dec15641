"""The one decoder of user inputs: images to predict, from the command line, the Python API
(`contest.Ensemble`) and every endpoint of `contest serve` alike.

    decode(data, form, spec, source, limits)   bytes or an open binary file -> images
    decode_file(path, spec, limits)            a file, opened once; its form from its name
    decode_array(x, spec, source)              an array or nested lists (the Python API)
    form_of_path(path), form_of_media(type, head)   which registered form reads an input

Forms (FORMS): npy, npz (its only array, or one named x/images/x_test), idx (MNIST's, gzip or
not), csv (Kaggle's, with or without label and id columns), json (lists, or {"images": lists})
and picture (PNG, JPEG and the others Pillow reads). Every form checks its limits (Limits: decoded
bytes, images, picture pixels) before it allocates, and every result goes through `check_images`:

- layout: one image or a batch in any layout the spec allows ((N, H, W) grey, (N, H, W, C) or
  (N, C, H, W) colour, flat (N, C*H*W), (N, 1, H, W) grey), refused unless it fits the spec;
- values: integers 0..255 come back as uint8, floats in [0, 1] as float32; floats on the 0..255
  scale, values out of range, NaN, booleans and strings are refused with the reason.

The result is contest's layout: (N, H, W) grey or (N, H, W, C) colour, the layout of
contest.data.spec, which contest.data.preprocess turns into model input. Anything unusable raises
ContestInputError(source, problem): the command line prints it as its one error line, the service
answers it as a 4xx JSON error with the same words. Nothing here loads pickle.
"""
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contest.data import decode_arrays, decode_pictures, decode_text
from contest.data.decode_payload import Limits, Payload
from contest.errors import ContestInputError

FLOAT_TOLERANCE = 1e-6
__all__ = ["FORMS", "Limits", "check_images", "decode", "decode_array", "decode_file",
           "form_of_media", "form_of_path"]


@dataclass(frozen=True)
class Form:
    """One input form: how it is named (suffixes, media types) and its reader. `read(payload,
    spec, limits)` returns an array (values unchecked) in any layout `check_images` accepts."""
    name: str
    suffixes: tuple
    media_types: tuple
    read: object


def _csv(payload, spec, limits):
    pixels, _, count = decode_text.read_csv_table(payload, limits)
    if count != spec.pixels:
        raise ContestInputError(payload.source, f"{count} pixel columns, but the ensemble takes "
                                                f"{spec.shape_text()} images ({spec.pixels} "
                                                "pixels): expected a Kaggle CSV header pixel0,"
                                                f"...,pixel{spec.pixels - 1} (optionally label "
                                                "and id columns)")
    return pixels


FORMS = {form.name: form for form in (
    Form("npy", (".npy",), ("application/x-npy", "application/npy"),
         lambda payload, spec, limits: decode_arrays.read_npy(payload, limits)),
    Form("npz", (".npz",), ("application/x-npz", "application/zip"),
         lambda payload, spec, limits: decode_arrays.read_npz(payload, limits)),
    Form("idx", (".idx", ".idx3", ".ubyte"), ("application/x-idx",),
         lambda payload, spec, limits: decode_arrays.read_idx(payload, limits)),
    Form("csv", (".csv",), ("text/csv",), _csv),
    Form("json", (".json",), ("application/json",),
         lambda payload, spec, limits: decode_text.read_json(payload, limits)),
    Form("picture", (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"),
         ("image/png", "image/jpeg", "image/bmp", "image/gif", "image/tiff", "image/webp"),
         decode_pictures.read_picture),
)}
MAGIC = ((decode_arrays.NPY_MAGIC, "npy"), (decode_arrays.ZIP_MAGIC, "npz"),
         (b"\x89PNG", "picture"), (b"\xff\xd8\xff", "picture"), (b"GIF8", "picture"),
         (b"\0\0\x08", "idx"), (decode_arrays.GZIP_MAGIC, "idx"))
_IDX_NAME = re.compile(r".*idx\d-ubyte(\.gz)?$", re.IGNORECASE)


def accepted_text():
    """'.npy, .npz, ...' for error messages."""
    return ", ".join(suffix for form in FORMS.values() for suffix in form.suffixes)


def media_text():
    return ", ".join(media for form in FORMS.values() for media in form.media_types) + \
        " or application/octet-stream"


def form_of_path(path):
    """The form of a file, from its name."""
    path = Path(path)
    if _IDX_NAME.fullmatch(path.name):
        return "idx"
    suffix = path.suffix.lower()
    for form in FORMS.values():
        if suffix in form.suffixes:
            return form.name
    raise ContestInputError(path, f"unsupported file type {suffix or '(none)'!r}; expected one "
                                  f"of {accepted_text()}")


def form_of_media(content_type, head=b""):
    """The form named by a Content-Type; application/octet-stream: recognised by the first
    bytes `head`. None for a media type no form reads."""
    media = (content_type or "").split(";")[0].strip().lower()
    for form in FORMS.values():
        if media in form.media_types:
            return form.name
    if media == "application/octet-stream":
        return next((name for magic, name in MAGIC if head.startswith(magic)), "npy")
    return None


def decode(data, form, spec, source, limits=Limits()):
    """Checked images of the `spec` (contest's layout) from `data` (bytes-like, or a binary
    file object at the input's start) in the registered `form`."""
    payload = Payload(data, source)
    if payload.size == 0:
        raise ContestInputError(source, "empty: no images")
    array = FORMS[form].read(payload, spec, limits)
    return check_images(array, spec, source, limits)


def decode_file(path, spec, limits=Limits()):
    """Checked images of the file `path` (opened once: what is checked is what is read)."""
    path = Path(path)
    form = form_of_path(path)
    with open_input(path) as handle:
        return decode(handle, form, spec, path, limits)


def open_input(path):
    """`path` opened for reading, refused in one line unless it is a non-empty regular file."""
    import os
    import stat

    path = Path(path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise ContestInputError(path, "file not found") from None
    except IsADirectoryError:
        raise ContestInputError(path, "is a directory, expected a file") from None
    except OSError as exc:
        raise ContestInputError(path, f"cannot open ({exc.strerror or exc})") from None
    info = os.fstat(handle.fileno())
    problem = "is a directory, expected a file" if stat.S_ISDIR(info.st_mode) else \
        "is not a regular file" if not stat.S_ISREG(info.st_mode) else \
        "file is empty (0 bytes)" if info.st_size == 0 else None
    if problem:
        handle.close()
        raise ContestInputError(path, problem)
    return handle


def read_array_file(path, limits=Limits()):
    """The numeric array of an .npy file (labels, image arrays of training data), checked as
    every .npy input is; opened once."""
    with open_input(path) as handle:
        return decode_arrays.read_npy(Payload(handle, path), limits)


def decode_array(x, spec, source="x", limits=Limits()):
    """Checked images of the `spec` from an array or nested lists (a ragged list refused)."""
    if isinstance(x, np.ndarray):
        array = x
    else:
        try:
            array = np.asarray(x)
        except (ValueError, TypeError):
            raise ContestInputError(source, "ragged lists: every image must have the same shape "
                                            "(lists of unequal lengths)") from None
    if array.dtype == object:
        raise ContestInputError(source, "ragged lists or non-numbers: every image must be an "
                                        "equal-shaped array of numbers")
    return check_images(array, spec, source, limits)


def accepted_shapes(spec):
    """Shapes of one image that `spec` accepts, the first being contest's layout."""
    return list(dict.fromkeys([spec.image_shape, (spec.pixels,), spec.model_shape]))


def check_images(array, spec, source, limits=Limits()):
    """`array` in contest's layout, values checked (see the module docstring)."""
    if array.dtype.kind not in "uif":
        raise ContestInputError(source, f"non-numeric dtype {array.dtype}; "
                                        "expected integers 0..255 or floats 0..1")
    images = _as_layout(array, spec, source)
    limits.check_images(len(images), source)
    return check_values(images, source)


def _as_layout(array, spec, source):
    shape = array.shape
    for one in accepted_shapes(spec):
        if shape[-len(one):] == one and array.ndim in (len(one), len(one) + 1):
            if one == spec.model_shape and spec.channels > 1:
                return np.moveaxis(array.reshape((-1,) + one), 1, 3)
            return array.reshape((-1,) + spec.image_shape)
    expected = ", ".join(f"(N, {', '.join(map(str, one))})" for one in accepted_shapes(spec))
    raise ContestInputError(source, f"wrong dimensions {shape}{_shape_text(shape)}: the "
                                    f"ensemble takes {spec.shape_text()} images, of shape "
                                    f"{expected}")


def _shape_text(shape):
    """' (28x28 images)' or ' (32x32x3 images)' for an image array's shape, '' if unclear."""
    if len(shape) == 3:
        return f" ({shape[1]}x{shape[2]} images)"
    if len(shape) == 4 and shape[3] <= 4:
        return f" ({shape[1]}x{shape[2]}x{shape[3]} images)"
    if len(shape) == 4 and shape[1] <= 4:
        return f" ({shape[2]}x{shape[3]}x{shape[1]} images)"
    return ""


def check_values(images, source):
    """uint8 for integer pixels 0..255, float32 for float pixels in [0, 1]; refuse all else."""
    if images.dtype.kind not in "uif":
        raise ContestInputError(source, f"non-numeric dtype {images.dtype}; "
                                        "expected integers 0..255 or floats 0..1")
    if len(images) == 0:
        raise ContestInputError(source, "empty: no images")
    if images.dtype.kind in "ui":
        lo, hi = int(images.min()), int(images.max())
        if lo < 0 or hi > 255:
            raise ContestInputError(source, "integer pixel values must lie in 0..255; "
                                            f"found {lo}..{hi}")
        return images.astype(np.uint8, copy=False)
    bad = int(np.count_nonzero(~np.isfinite(images)))
    if bad:
        raise ContestInputError(source, f"contains {bad} NaN or infinite pixel values")
    lo, hi = float(images.min()), float(images.max())
    if lo < -FLOAT_TOLERANCE or hi > 1 + FLOAT_TOLERANCE:
        hint = " (floats on the 0..255 scale are refused: divide by 255 or use uint8)" \
            if hi <= 255 and lo >= 0 else ""
        raise ContestInputError(source, "float pixel values must lie in [0, 1]; "
                                        f"found [{lo:g}, {hi:g}]{hint}")
    return np.clip(images, 0.0, 1.0).astype(np.float32, copy=False)
