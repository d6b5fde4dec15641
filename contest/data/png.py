"""The one PNG loader: every PNG mode read at its real bit depth, transparency composited on the
background the image implies, sizes checked from the header before any pixel is decoded.

Modes: greyscale 1/2/4/8-bit ('1', 'L'), 16-bit ('I;16', 'I;16B' or 'I' depending on the Pillow
version: scaled from 0..65535 to 0..255, not clipped at 255), palette ('P', with or without a
transparent entry), RGB, and the alpha variants ('LA', 'PA', 'RGBA'). A transparent region is
background: it is filled with the colour opposite to the visible strokes (white digit on a
transparent background -> black background, a dark digit -> white), so the digit survives. An image
that is entirely transparent is refused, as is any mode outside this list.
"""
import numpy as np

from contest.errors import ContestInputError

_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_WITH_ALPHA = ("LA", "PA", "RGBA", "La", "RGBa")
_PLAIN = ("1", "L", "RGB", "P")
MAX_PIXELS = 4096 * 4096  # larger pictures are refused before they are decompressed


def read_png(file, size=None, source=None):
    """(height, width) uint8 greyscale pixels 0-255 of the PNG `file` (a path or a binary file
    object); `size` (h, w), when given, must match, else at most MAX_PIXELS pixels.

    Raises ContestInputError naming `source` (default: `file`) for unreadable files, other sizes
    and unknown modes.
    """
    from PIL import Image, UnidentifiedImageError

    source = file if source is None else source
    try:
        with Image.open(file) as image:
            if image.format != "PNG":
                raise ContestInputError(source, f"not a PNG image (format {image.format})")
            _check_size(image, size, source)
            image.load()
            return _to_grey(image, source)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as exc:
        raise ContestInputError(source, f"not a readable PNG image ({exc})") from None


def _check_size(image, size, source):
    """Before decoding: the header's size must be `size`, or within MAX_PIXELS (no
    decompression bombs)."""
    width, height = image.size
    if size is None:
        if width * height > MAX_PIXELS:
            raise ContestInputError(source, f"image of {width}x{height} pixels is over the limit "
                                            f"of {MAX_PIXELS} pixels")
    elif (height, width) != tuple(size):
        raise ContestInputError(source, f"wrong image size {width}x{height}: expected "
                                        f"{size[1]}x{size[0]} pixels")


def _to_grey(image, path):
    mode = image.mode
    if mode in _SIXTEEN_BIT:
        return _scale_16bit(np.asarray(image), path)
    if mode == "P" and "transparency" in image.info:
        mode, image = "RGBA", image.convert("RGBA")
    if mode in _WITH_ALPHA:
        return _composite(np.asarray(image.convert("RGBA")), path)
    if mode in _PLAIN:
        return np.asarray(image.convert("L"))
    raise ContestInputError(path, f"unsupported PNG mode {mode!r}; expected greyscale (8 or "
                                  "16 bit), palette, RGB or one of these with alpha")


def _scale_16bit(values, path):
    """0..65535 to 0..255, rounded; values beyond 16 bits cannot come from a PNG."""
    values = values.astype(np.int64)
    if values.min() < 0 or values.max() > 65535:
        raise ContestInputError(path, "16-bit PNG with values outside 0..65535")
    return ((values * 255 + 32767) // 65535).astype(np.uint8)


def _composite(rgba, path):
    """Greyscale of an RGBA array over the background opposite to its visible strokes."""
    grey = rgba[..., :3].astype(np.float32) @ np.float32([0.299, 0.587, 0.114])
    alpha = rgba[..., 3].astype(np.float32) / 255
    if not alpha.any():
        raise ContestInputError(path, "fully transparent image: no visible pixels")
    if alpha.min() == 1:
        return np.rint(grey).astype(np.uint8)
    visible = float((grey * alpha).sum() / alpha.sum())
    background = 0.0 if visible > 127.5 else 255.0
    out = grey * alpha + background * (1 - alpha)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
