"""Outside images -> pixels an ensemble takes: the one validated way in for the CLI, the Python
API (`contest.Ensemble`) and the HTTP service.

Every function takes the target `shape` (channels, height, width), today (1, 28, 28), and a
`source` that names where the data came from (a file, "request body", "x") in error messages.

- `check_pixels(array, source, shape)`: layout (N, C, H, W), (N, H, W), (N, C*H*W) or a single
  image, and values: integers 0..255 come back as uint8, floats in [0, 1] as float32; floats on the
  0..255 scale, out-of-range values, NaN, booleans and strings are refused with the reason.
- `decode_png`, `parse_npy`, `parse_csv`, `parse_json`: bytes/text/lists -> checked pixels.
- `mnist_recipe(grey, shape)`: an image of any size (a drawing, a photo of a digit) made to look
  like MNIST: ink light on dark, cropped to its bounding box, longer side scaled to 20/28 of the
  target, placed with its centre of mass at the centre.
Anything unusable raises ContestInputError(source, problem); nothing here loads pickle.
"""
import io
import warnings

import numpy as np

from contest.data.png import read_png
from contest.errors import ContestInputError

DEFAULT_SHAPE = (1, 28, 28)
FLOAT_TOLERANCE = 1e-6
INK_THRESHOLD = 0.1      # fraction of the brightest ink value that counts as ink for the crop
BOX_FRACTION = 20 / 28   # MNIST: the digit's longer side is 20 px in a 28 px frame


def as_image_stack(array, source, shape=DEFAULT_SHAPE):
    """(N, C, H, W) view of `array` in any accepted layout (values not checked)."""
    channels, height, width = shape
    image = (channels, height, width)
    flat = channels * height * width
    layouts = {image: (1,) + image, (flat,): (1,) + image}
    if channels == 1:
        layouts[(height, width)] = (1,) + image
    if array.shape in layouts:
        return array.reshape(layouts[array.shape])
    rest = array.shape[1:]
    if rest in (image, (flat,)) or (channels == 1 and rest == (height, width)):
        return array.reshape((-1,) + image)
    accepted = [f"(N, {channels}, {height}, {width})", f"(N, {flat})"]
    if channels == 1:
        accepted.insert(0, f"(N, {height}, {width})")
    raise ContestInputError(source, f"wrong dimensions {array.shape}: expected images of shape "
                                    f"{', '.join(accepted[:-1])} or {accepted[-1]}")


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


def check_pixels(array, source, shape=DEFAULT_SHAPE):
    """Checked (N, C, H, W) uint8 or float32 pixels from an array-like in any accepted layout."""
    array = np.asarray(array)
    if array.dtype.kind not in "uif":
        raise ContestInputError(source, f"non-numeric dtype {array.dtype}; "
                                        "expected integers 0..255 or floats 0..1")
    return check_values(as_image_stack(array, source, shape), source)


def mnist_recipe(grey, source, shape=DEFAULT_SHAPE):
    """(C, H, W) uint8 MNIST-like image from a 2-D grey image (uint8 0..255) of any size."""
    channels, height, width = shape
    if channels != 1:
        raise ContestInputError(source, f"resizing to {channels}-channel images is not supported; "
                                        f"send {height}x{width} images")
    ink = _light_on_dark(np.asarray(grey, dtype=np.float32))
    rows, cols = np.nonzero(ink > INK_THRESHOLD * ink.max()) if ink.max() > 0 else ((), ())
    if len(rows) == 0:
        raise ContestInputError(source, "blank image: no ink found to crop to")
    crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    box = max(1, round(BOX_FRACTION * min(height, width)))
    scaled = _scale_longer_side(crop, box)
    return _place_centre_of_mass(scaled, height, width)[None]


def _light_on_dark(grey):
    """Ink as high values on a 0 background: a light border (paper) means dark ink, inverted;
    the border's median (a grey photo background) is taken off."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    ink = 255.0 - grey if border.mean() > 127 else grey
    background = np.median(255.0 - border if border.mean() > 127 else border)
    return np.clip(ink - background, 0, 255)


def _scale_longer_side(crop, box):
    """`crop` resized (Pillow, antialiased) so its longer side is `box` px, aspect kept."""
    from PIL import Image

    h, w = crop.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    image = Image.fromarray(crop.astype(np.float32), mode="F")
    return np.asarray(image.resize(size, Image.Resampling.LANCZOS), dtype=np.float32)


def _place_centre_of_mass(image, height, width):
    """uint8 (height, width) frame with `image` pasted so its centre of mass is at the centre."""
    from scipy import ndimage

    image = np.clip(image, 0, 255)
    cy, cx = ndimage.center_of_mass(image) if image.sum() > 0 else (0, 0)
    h, w = image.shape
    # MNIST's digits have their centre of mass near pixel (14, 14) of 28 (index coordinates)
    top = int(np.clip(round(height / 2 - cy), 0, height - h))
    left = int(np.clip(round(width / 2 - cx), 0, width - w))
    frame = np.zeros((height, width), dtype=np.float32)
    frame[top:top + h, left:left + w] = image
    return np.round(frame).astype(np.uint8)


def decode_png(data, source, shape=DEFAULT_SHAPE):
    """(1, C, H, W) uint8 from PNG bytes of any size, read by the one PNG loader
    (contest.data.png: every mode at its real bit depth, transparency as background)."""
    grey = read_png(io.BytesIO(data), None, source)
    if grey.shape == tuple(shape[1:]) and shape[0] == 1:
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        return (255 - grey if border.mean() > 127 else grey).reshape((1,) + tuple(shape))
    return mnist_recipe(grey, source, shape)[None]


def parse_npy(data, source, shape=DEFAULT_SHAPE):
    """Checked pixels from the bytes of an .npy file; object (pickled) arrays refused."""
    from nnlib.serialization import read_npy_header

    handle = io.BytesIO(data)
    try:
        dims, fortran, dtype = read_npy_header(handle)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise ContestInputError(source, f"not a valid .npy file ({exc})") from None
    if dtype.hasobject:
        raise ContestInputError(source, "object (pickled) array refused; send a numeric array")
    count = int(np.prod(dims, dtype=np.int64))
    expected = handle.tell() + count * dtype.itemsize
    if len(data) < expected:
        raise ContestInputError(source, f"truncated .npy data: {len(data)} bytes, "
                                        f"header needs {expected}")
    # one reading of the header (np.load would parse it again), and a copy the caller owns
    array = np.frombuffer(data, dtype=dtype, count=count, offset=handle.tell()).copy()
    return check_pixels(array.reshape(dims, order="F" if fortran else "C"), source, shape)


def parse_csv(text, source, shape=DEFAULT_SHAPE):
    """Checked pixels from a Kaggle CSV (header pixel0..; an optional leading label ignored)."""
    flat = int(np.prod(shape))
    header, _, body = text.partition("\n")
    names = [name.strip().strip('"') for name in header.strip().split(",")]
    pixels = [f"pixel{i}" for i in range(flat)]
    if names not in (pixels, ["label"] + pixels):
        raise ContestInputError(source, f"expected a Kaggle CSV header pixel0,...,pixel{flat - 1} "
                                        f"(optionally 'label' first); found {header[:40].strip()!r}")
    has_label = names[0] == "label"
    data = _csv_numbers(body, source)
    columns = flat + has_label
    if data.size and data.shape[1] != columns:
        raise ContestInputError(source, f"expected {columns} columns per row, "
                                        f"found {data.shape[1]}")
    data = data[:, 1:] if has_label else data
    if data.dtype.kind == "f" and data.size and np.all(np.isfinite(data)) \
            and np.all(data == np.round(data)):
        data = data.astype(np.int64)  # integral values: the 0..255 scale of Kaggle files
    return check_values(data.reshape((-1,) + tuple(shape)), source)


def _csv_numbers(body, source):
    """The CSV body as int64 (Kaggle's integer pixels, parsed ~6x faster) or else float64."""
    error = None
    for dtype in (np.int64, np.float64):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # loadtxt warns on an empty body
                return np.loadtxt(io.StringIO(body), delimiter=",", dtype=dtype, ndmin=2)
        except ValueError as exc:
            error = exc
    raise ContestInputError(source, f"bad CSV data ({str(error).splitlines()[0]})") from None


def parse_json(value, source, shape=DEFAULT_SHAPE):
    """Checked pixels from JSON lists (a bare list or {"images": [...]}) of numbers."""
    if isinstance(value, dict):
        if "images" not in value:
            raise ContestInputError(source, 'JSON object without an "images" key')
        value = value["images"]
    if not isinstance(value, list):
        raise ContestInputError(source, "expected JSON lists of pixel values")
    try:
        array = np.array(value)
    except ValueError:
        raise ContestInputError(source, "ragged JSON lists: every image must have the same "
                                        "shape") from None
    if array.dtype == object:
        raise ContestInputError(source, "JSON lists must hold only numbers, every image of "
                                        "the same shape")
    if array.size == 0:
        raise ContestInputError(source, "empty: no images")
    return check_pixels(array, source, shape)
