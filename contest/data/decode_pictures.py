"""Pictures for contest.data.decode: PNG, JPEG and the other formats Pillow reads.

Every mode is read at its real bit depth: greyscale 1/2/4/8-bit, 16-bit (scaled from 0..65535 to
0..255, not clipped), palette (with or without a transparent entry), RGB, and the alpha variants.
A transparent region is background: it is filled with the colour opposite to the visible strokes
(white digit on a transparent background -> black background, a dark digit -> white), so the digit
survives; a picture that is entirely transparent is refused. The size is read from the header and
checked (Limits.max_picture_pixels) before any pixel is decompressed.

For a grey ensemble a picture of the ensemble's size is taken as it is (inverted when its border
is light: MNIST's digits are light on dark); a picture of another size goes through the MNIST
recipe: ink light on dark, cropped to its bounding box, longer side scaled to 20/28 of the target,
placed with its centre of mass at the centre. Pictures larger than RECIPE_SIDE are first reduced
by an integer factor (box filter), which bounds the recipe's memory. A colour ensemble takes
pictures of its own size, transparency composited on white.
"""
import numpy as np

from contest.errors import ContestInputError, ContestInputTooLarge

FORMATS = ("PNG", "JPEG", "MPO", "BMP", "GIF", "TIFF", "WEBP", "PPM")
INK_THRESHOLD = 0.1      # fraction of the brightest ink value that counts as ink for the crop
BOX_FRACTION = 20 / 28   # MNIST: the digit's longer side is 20 px in a 28 px frame
RECIPE_SIDE = 1024       # larger pictures are reduced before the recipe
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_WITH_ALPHA = ("LA", "PA", "RGBA", "La", "RGBa")
_PLAIN = ("1", "L", "RGB", "P", "CMYK", "YCbCr")


def read_picture(payload, spec, limits):
    """(1, H, W) (grey) or (1, H, W, 3) (colour) uint8 image of the ensemble's `spec` from a
    picture input."""
    from PIL import Image, UnidentifiedImageError

    source = payload.source
    if spec.channels not in (1, 3):
        raise ContestInputError(source, f"picture input needs a grey or RGB ensemble, this one "
                                        f"takes {spec.channels} channels")
    try:
        with Image.open(payload.stream) as image:
            if image.format not in FORMATS:
                raise ContestInputError(source, f"unsupported picture format {image.format}")
            _check_size(image, limits, source)
            image.load()
            if spec.channels == 3:
                return _colour(image, spec, source)[None]
            return _grey_for(_reduced(image), spec, source)[None]
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            Image.DecompressionBombError) as exc:
        if isinstance(exc, ContestInputError):
            raise
        what = "not a picture Pillow recognises" if isinstance(exc, UnidentifiedImageError) \
            else _first_line(exc)
        raise ContestInputError(source, f"not a readable picture (PNG, JPEG, ...: {what})") \
            from None


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _check_size(image, limits, source):
    width, height = image.size
    if width * height > limits.max_picture_pixels:
        raise ContestInputTooLarge(source, f"picture of {width}x{height} pixels is over the limit "
                                        f"of {limits.max_picture_pixels} pixels")


def _reduced(image):
    """`image` reduced by an integer factor so that its longer side is at most RECIPE_SIDE."""
    factor = -(-max(image.size) // RECIPE_SIDE)
    if factor <= 1 or image.mode not in ("L", "RGB", "RGBA", "LA"):
        return image
    return image.reduce(factor)


def _grey_for(image, spec, source):
    grey = _to_grey(image, source)
    if grey.shape == (spec.height, spec.width):
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        return 255 - grey if border.mean() > 127 else grey
    return mnist_recipe(grey, source, spec.model_shape)[0]


def _colour(image, spec, source):
    from PIL import Image

    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    pixels = np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if pixels.shape[:2] != (spec.height, spec.width):
        raise ContestInputError(source, f"wrong image size {pixels.shape[1]}x{pixels.shape[0]}: "
                                        f"expected {spec.width}x{spec.height} pixels")
    return pixels


def _to_grey(image, path):
    """(H, W) uint8 grey pixels of a loaded picture in any mode listed in the docstring."""
    mode = image.mode
    if mode in _SIXTEEN_BIT:
        return _scale_16bit(np.asarray(image), path)
    if mode == "P" and "transparency" in image.info:
        mode, image = "RGBA", image.convert("RGBA")
    if mode in _WITH_ALPHA:
        return _composite(np.asarray(image.convert("RGBA")), path)
    if mode in _PLAIN:
        return np.asarray(image.convert("L"))
    raise ContestInputError(path, f"unsupported picture mode {mode!r}; expected greyscale (8 or "
                                  "16 bit), palette, RGB or one of these with alpha")


def _scale_16bit(values, path):
    """0..65535 to 0..255, rounded; values beyond 16 bits cannot come from a PNG."""
    values = values.astype(np.int64)
    if values.min() < 0 or values.max() > 65535:
        raise ContestInputError(path, "16-bit picture with values outside 0..65535")
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


def mnist_recipe(grey, source, shape):
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
