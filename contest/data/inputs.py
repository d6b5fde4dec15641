"""Loading and validating the user's files: images to predict and labels to score against.

Images are checked against the ensemble's InputSpec (default MNIST's, 28x28 grey). Accepted: `.npy`
of shape (N, H, W) (grey) or (N, H, W, C), (N, C, H, W) or flat (N, C*H*W) (a single image too),
uint8/integer 0-255 or float 0-1; a Kaggle-style `.csv` (header pixel0..pixelP-1, optionally a
label and id columns); a `.png` in any mode contest.data.png reads (8- or 16-bit grey,
palette, RGB, with or without alpha; a grey dark digit on a light background is inverted to
MNIST's light-on-dark, and another size goes through the MNIST recipe of contest.data.images;
colour images are read as RGB). They come back in contest's layout,
(N, H, W) grey or (N, H, W, C) colour, uint8 (integer input) or float32 in [0, 1] (float input),
ready for `contest.data.preprocess.normalise`. Anything unusable raises ContestInputError
with one line naming the file and the problem; pickled arrays are never loaded.
"""
from pathlib import Path

import numpy as np

from contest.data.images import check_values, decode_png
from contest.data.spec import MNIST
from contest.errors import ContestInputError
from contest.data.submission import read_submission

IMAGE_SUFFIXES = (".npy", ".csv", ".png")
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


def load_images(path, spec=MNIST):
    """Images of an .npy, .csv or .png file for `spec` (contest's layout), N >= 1."""
    path = check_file(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        images = _as_images(read_npy(path), path, spec)
    elif suffix == ".csv":
        images = _load_csv(path, spec)
    elif suffix == ".png":
        images = _load_png(path, spec)
    else:
        raise ContestInputError(path, f"unsupported file type {suffix or '(none)'!r}; "
                                      f"expected one of {', '.join(IMAGE_SUFFIXES)}")
    return check_values(images, path)


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


def accepted_shapes(spec):
    """Shapes of one image that `spec` accepts, the first being contest's layout."""
    shapes = [spec.image_shape, (spec.pixels,), spec.model_shape]
    return list(dict.fromkeys(shapes))


def _as_images(array, path, spec=MNIST):
    """Contest's layout ((N, H, W) or (N, H, W, C)) of an array in any accepted layout."""
    shape, layout = array.shape, (-1,) + spec.image_shape
    for one in accepted_shapes(spec):
        if shape[-len(one):] == one and array.ndim in (len(one), len(one) + 1):
            if one == spec.model_shape and spec.channels > 1:
                return np.moveaxis(array.reshape((-1,) + one), 1, 3)
            return array.reshape(layout)
    expected = ", ".join(f"(N, {', '.join(map(str, one))})" for one in accepted_shapes(spec))
    raise ContestInputError(path, f"wrong dimensions {shape}{_shape_text(shape)}: the ensemble "
                                  f"takes {spec.shape_text()} images, of shape {expected}")


def _shape_text(shape):
    """' (28x28 images)' or ' (32x32x3 images)' for an image array's shape, '' if unclear."""
    if len(shape) == 3:
        return f" ({shape[1]}x{shape[2]} images)"
    if len(shape) == 4 and shape[3] <= 4:
        return f" ({shape[1]}x{shape[2]}x{shape[3]} images)"
    if len(shape) == 4 and shape[1] <= 4:
        return f" ({shape[2]}x{shape[3]}x{shape[1]} images)"
    return ""


def _load_csv(path, spec=MNIST):
    """Kaggle test.csv (or train.csv, whose label column is ignored) as images of `spec`."""
    from contest.data.csvdata import integral_pixels, read_csv_table

    with open(path, "rb") as handle:
        header = handle.readline().decode("utf-8-sig", errors="replace")
    if "pixel0" not in [name.strip().strip('"') for name in header.split(",")]:
        raise ContestInputError(path, f"expected a Kaggle CSV header pixel0,...,pixel"
                                      f"{spec.pixels - 1} (optionally 'label' and id columns); "
                                      f"found {header[:40].strip()!r}")
    pixels, _, count = read_csv_table(path)
    if count != spec.pixels:
        raise ContestInputError(path, f"{count} pixel columns, but the ensemble takes "
                                      f"{spec.shape_text()} images ({spec.pixels} pixels)")
    return integral_pixels(pixels).reshape((-1,) + spec.image_shape)


def _load_png(path, spec=MNIST):
    """An HxW PNG as (1, H, W) uint8 (grey: light digit on dark like MNIST; another size goes
    through the MNIST recipe of contest.data.images) or (1, H, W, 3) for a colour ensemble."""
    if spec.channels == 3:
        return _load_rgb_png(path, spec)
    if spec.channels != 1:
        raise ContestInputError(path, f"PNG input needs a grey or RGB ensemble, this one takes "
                                      f"{spec.channels} channels")
    return decode_png(path.read_bytes(), path, spec.model_shape).reshape((1,) + spec.image_shape)


def _load_rgb_png(path, spec):
    """An RGB PNG of the spec's size as (1, H, W, 3) uint8; transparency composited on white."""
    from PIL import Image, UnidentifiedImageError   # Pillow costs 30 ms: only PNG input pays

    try:
        with Image.open(path) as image:
            image.load()
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            pixels = np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ContestInputError(path, f"not a readable PNG image ({exc})") from None
    if pixels.shape[:2] != (spec.height, spec.width):
        raise ContestInputError(path, f"wrong image size {pixels.shape[1]}x{pixels.shape[0]}: "
                                      f"expected {spec.width}x{spec.height} pixels")
    return pixels[None]


def load_labels(path, n_expected=None, classes=10):
    """Integer labels 0..classes-1 of shape (N,) from an .npy (or .txt, one per line) file;
    `classes` None: any class number >= 0 (scoring a submission, which knows no ensemble)."""
    path = check_file(path)
    if path.suffix.lower() == ".npy":
        labels = read_npy(path)
    elif path.suffix.lower() == ".txt":
        labels = read_submission(path)
    else:
        raise ContestInputError(path, f"unsupported labels file type {path.suffix!r}; use .npy")
    return _check_labels(labels, path, n_expected, classes)


def _check_labels(labels, path, n_expected, classes=10):
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ContestInputError(path, f"wrong dimensions {labels.shape}: "
                                      "expected labels of shape (N,)")
    if labels.dtype.kind not in "ui":
        raise ContestInputError(path, f"labels must be integers, got dtype {labels.dtype}")
    if len(labels) == 0:
        raise ContestInputError(path, "empty: the file contains no labels")
    if labels.min() < 0 or (classes is not None and labels.max() >= classes):
        allowed = "be >= 0" if classes is None else f"lie in 0..{classes - 1}"
        raise ContestInputError(path, f"labels must {allowed}; "
                                      f"found {labels.min()}..{labels.max()}")
    if n_expected is not None and len(labels) != n_expected:
        raise ContestInputError(path, f"{len(labels)} labels, expected {n_expected}")
    return labels.astype(np.int64)
