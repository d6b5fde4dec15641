"""Handwriting styles that MNIST's writers rarely used, drawn onto digits of the right class.

MNIST's digits come from American writers; elsewhere a 1 is often written with a flag at the top
(a short stroke down to the left) and sometimes a foot (a short bar at the bottom), and a 9 with
its tail curled to the left. A network that never saw these reads a flagged 1 as a 7 or a 4 and a
curled 9 as a 3. `StyleAugmenter` adds them to training images of those classes:

- `p_flag`: share of the 1s that get a flag from their top end, 25-40 % of the digit's height
  long, turned 30-60 degrees to the left of the stem (so 30-60 degrees below horizontal on an
  upright 1; always between 30 and 60 degrees below horizontal, since a flatter flag on a
  slanted 1 draws a 7); half of them also get a foot, a bar centred on
  the bottom end, 30-60 % of the height wide;
- `p_tail`: share of the 9s whose bottom end gets a short stroke to the left and slightly up,
  20-35 % of the height long.

A stroke is drawn anti-aliased, as wide as the digit's own stroke (the median ink width of the
rows it crosses) and as bright as its brightest pixel. It needs the labels, so it is called as
`aug(batch, rng, labels=labels)`; `uses_labels` tells a training loop so. Batches are (N, H, W) or
(N, 1, H, W) floats with ink in [0, 1] on a 0 background; the classes are given by index
(`one`, `nine`), so the augmenter knows nothing of class names.
"""
import numpy as np

from .sampling import check_number, check_rng

INK = 0.5          # a pixel with at least this value is ink when finding ends and widths
END_ROWS = 2       # rows averaged to place a stroke's end


def _ink_rows(ink):
    """(first, last) row holding ink, per image of a boolean (n, H, W) batch."""
    rows = ink.any(axis=2)
    first = rows.argmax(axis=1)
    last = rows.shape[1] - 1 - rows[:, ::-1].argmax(axis=1)
    return first, last


def _end_column(x, rows, low, high):
    """Ink-weighted mean column of the rows in [low, high] per image (n,)."""
    mask = (rows[None, :] >= low[:, None]) & (rows[None, :] <= high[:, None])
    weights = x * mask[:, :, None]
    cols = np.arange(x.shape[2], dtype=np.float64)
    total = weights.sum(axis=(1, 2))
    return (weights * cols).sum(axis=(1, 2)) / np.maximum(total, 1e-9)


def stroke_ends(x):
    """Top and bottom ends of the ink of each image of x (n, H, W): arrays (n, 2) of (row, col),
    the height of the ink (n,) and its stroke width (n,): the median ink width of the rows in the
    lower half of the digit, between 1 and 4 px."""
    ink = x >= INK
    first, last = _ink_rows(ink)
    rows = np.arange(x.shape[1])
    top = np.stack([first, _end_column(x, rows, first, first + END_ROWS)], axis=1)
    bottom = np.stack([last, _end_column(x, rows, last - END_ROWS, last)], axis=1)
    widths = ink.sum(axis=2).astype(np.float64)
    lower = (rows[None, :] >= ((first + last) / 2)[:, None]) & (widths > 0)
    median = np.nanmedian(np.where(lower, widths, np.nan), axis=1)
    return top.astype(np.float64), bottom.astype(np.float64), (last - first).astype(np.float64), \
        np.clip(np.nan_to_num(median, nan=2.0), 1.0, 4.0)


def draw_segments(x, start, end, width):
    """x (n, H, W) with one anti-aliased segment per image from start to end ((n, 2) row, col)
    of `width` px (n,), as bright as the image's brightest pixel; returns a new array."""
    n, h, w = x.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    sy, sx = (start[:, i, None, None] for i in (0, 1))
    dy, dx = ((end - start)[:, i, None, None] for i in (0, 1))
    length2 = np.maximum(dy * dy + dx * dx, 1e-9)
    t = np.clip(((yy - sy) * dy + (xx - sx) * dx) / length2, 0.0, 1.0)
    dist = np.hypot(yy - (sy + t * dy), xx - (sx + t * dx))
    ink = np.clip(width[:, None, None] / 2 + 0.5 - dist, 0.0, 1.0)
    peak = x.reshape(n, -1).max(axis=1)[:, None, None]
    return np.maximum(x, (ink * peak).astype(x.dtype))


FLAG = {"length": (0.25, 0.4), "angle": (30.0, 60.0), "p_foot": 0.5, "foot": (0.15, 0.3)}
FLAG_STEEPNESS = (30.0, 60.0)   # degrees below horizontal: flatter flags make a 7 of a slanted 1
TAIL = {"across": (0.2, 0.35), "up": (0.0, 0.15)}


def add_flags(x, rng, length=FLAG["length"], angle=FLAG["angle"], p_foot=FLAG["p_foot"],
              foot=FLAG["foot"]):
    """A flag on each 1 of x (n, H, W): `length` (share of the digit's height) and `angle`
    (degrees between the stem and the flag, which turns left from the stem's top) ranges; with
    probability p_foot also a foot, `foot` its half width as a share of the height."""
    top, bottom, height, width = stroke_ends(x)
    size = rng.uniform(*length, len(x)) * height
    # the stem's direction from its top, in degrees below horizontal-to-the-left (90: upright)
    stem = np.rad2deg(np.arctan2(bottom[:, 0] - top[:, 0], top[:, 1] - bottom[:, 1]))
    theta = np.deg2rad(np.clip(stem - rng.uniform(*angle, len(x)), *FLAG_STEEPNESS))
    flag_end = top + np.stack([np.sin(theta), -np.cos(theta)], axis=1) * size[:, None]
    out = draw_segments(x, top, flag_end, width)
    with_foot = np.flatnonzero(rng.random(len(x)) < p_foot)
    half = np.stack([np.zeros(len(x)), rng.uniform(*foot, len(x)) * height], axis=1)
    if len(with_foot):
        out[with_foot] = draw_segments(out[with_foot], (bottom - half)[with_foot],
                                       (bottom + half)[with_foot], width[with_foot])
    return out


def add_tails(x, rng, across=TAIL["across"], up=TAIL["up"]):
    """A tail curled to the left from the bottom end of each 9 of x (n, H, W): `across` and `up`
    are ranges of its extent as shares of the digit's height."""
    _, bottom, height, width = stroke_ends(x)
    extent = np.stack([rng.uniform(*up, len(x)), rng.uniform(*across, len(x))], axis=1)
    return draw_segments(x, bottom, bottom - extent * height[:, None], width)


class StyleAugmenter:
    """Flags and feet on 1s, curled tails on 9s, with the given per-image probabilities."""

    uses_labels = True

    def __init__(self, p_flag=0.0, p_tail=0.0, one=1, nine=9):
        self.config = {"p_flag": check_number("p_flag", p_flag, low=0, high=1),
                       "p_tail": check_number("p_tail", p_tail, low=0, high=1)}
        self.one, self.nine = int(one), int(nine)

    def get_config(self):
        return dict(self.config)

    @property
    def is_identity(self):
        return not any(self.config.values())

    def __call__(self, images, rng, labels=None):
        check_rng(rng)
        if labels is None or len(labels) != len(images):
            raise ValueError("StyleAugmenter needs one label per image (labels=...)")
        if images.ndim == 4 and images.shape[1] != 1:
            raise ValueError(f"StyleAugmenter draws on grey images (received: {images.shape[1]} "
                             "channels)")
        x = np.array(images, dtype=np.float32 if images.dtype != np.float64 else np.float64)
        flat = x.reshape(len(x), *x.shape[-2:])
        labels = np.asarray(labels)
        inked = flat.reshape(len(x), -1).max(axis=1) >= INK   # no ink, no stroke end to draw from
        for key, cls, draw in (("p_flag", self.one, add_flags), ("p_tail", self.nine, add_tails)):
            coin = rng.random(len(x)) < self.config[key]
            chosen = np.flatnonzero((labels == cls) & coin & inked)
            if len(chosen):
                flat[chosen] = draw(flat[chosen], rng)
        return x.astype(images.dtype, copy=False)
