"""Tiles side by side in one array (one `imshow` draws a whole grid: far faster than an axes per
tile), and the scalings the views share."""
import numpy as np


def unit_range(a, low=None, high=None):
    """a scaled to 0..1 between low and high (default: its own minimum and maximum)."""
    a = np.asarray(a, dtype=np.float32)
    low = float(np.min(a)) if low is None else low
    high = float(np.max(a)) if high is None else high
    return np.clip((a - low) / max(high - low, 1e-12), 0, 1)


def upscale(tile, height, width, fill=np.nan):
    """A (h, w[, 3]) tile repeated by whole factors (nearest pixel) and padded with `fill` to
    (height, width[, 3]); pixels stay square blocks, as the network sees them."""
    h, w = tile.shape[:2]
    f = max(1, min(height // h, width // w))
    big = np.repeat(np.repeat(tile, f, axis=0), f, axis=1)
    out = np.full((height, width) + tile.shape[2:], fill, dtype=np.float32)
    out[:big.shape[0], :big.shape[1]] = big
    return out


def mosaic(rows, pad=2):
    """(One (H, W[, 3]) float array of rows of tiles, the height of a row in it): tiles
    upscaled to the largest one's size, NaN between grey tiles (drawn blank), white between
    colour ones."""
    height = max(t.shape[0] for row in rows for t in row)
    width = max(t.shape[1] for row in rows for t in row)
    cols = max(len(row) for row in rows)
    extra = rows[0][0].shape[2:]
    fill = 1.0 if extra else np.nan
    out = np.full((len(rows) * (height + pad) - pad, cols * (width + pad) - pad) + extra,
                  fill, dtype=np.float32)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            y, x = r * (height + pad), c * (width + pad)
            out[y:y + height, x:x + width] = upscale(tile, height, width, fill)
    return out, height + pad


def display_image(image):
    """An image in contest's layout as float 0..1, (H, W) grey or (H, W, 3) colour (a 2- or
    4-channel image shown by its first channel or its RGB)."""
    a = np.asarray(image, dtype=np.float32)
    a = a / 255.0 if np.asarray(image).dtype == np.uint8 else a
    if a.ndim == 3:
        a = a[..., :3] if a.shape[2] >= 3 else a[..., 0]
    return np.clip(a, 0, 1)


def seen_image(x):
    """The model input (C, H, W) as a displayable 0..1 image, scaled by its own range."""
    x = np.asarray(x, dtype=np.float32)
    a = np.moveaxis(x[:3], 0, 2) if x.shape[0] >= 3 else x[0]
    return unit_range(a)
