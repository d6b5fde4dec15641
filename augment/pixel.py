"""Pixel-level corruptions for training: noise, salt-and-pepper, contrast, blur, stroke width,
stray lines and erased patches, so that a model trained on clean scans does not collapse on dirty
ones; and mild per-channel colour gains for colour images (p_colour, drawn after all the others).

`PixelAugmenter(**kwargs)(batch, rng) -> batch` works on float batches (N, H, W) or (N, C, H, W)
with ink in [0, 1] on a 0 background (call it before any normalisation). Each corruption hits each
image independently with its own probability; everything is vectorised over the batch.
"""
import numpy as np
from scipy import ndimage

from .sampling import call_augmenter, check_number, check_rng

_CROSS = ndimage.generate_binary_structure(2, 1)


def _subset(rng, n, p):
    return np.flatnonzero(rng.random(n) < p)


def _per_image(x):
    """The broadcast shape of one value per image: (N, 1, 1[, 1])."""
    return (len(x),) + (1,) * (x.ndim - 1)


def add_noise(x, rng, sigma_max, sigma_min=0.0):
    """Gaussian noise, per-image sigma drawn from U(sigma_min, sigma_max), clipped to [0, 1]."""
    sigma = rng.uniform(sigma_min, sigma_max, size=_per_image(x)).astype(x.dtype)
    return np.clip(x + sigma * rng.standard_normal(x.shape, dtype=x.dtype), 0, 1)


def salt_pepper(x, rng, fraction_max, fraction_min=0.0):
    """Set a per-image fraction U(fraction_min, fraction_max) of pixels to 0 or 1 (half each)."""
    frac = rng.uniform(fraction_min, fraction_max, size=_per_image(x))
    u = rng.random(x.shape, dtype=np.float32)
    out = x.copy()
    out[u < frac / 2] = 0
    out[(u >= frac / 2) & (u < frac)] = 1
    return out


def low_contrast(x, rng, contrast_min, contrast_max=1.0, background=None):
    """Map ink to base + scale * ink with scale U(contrast_min, contrast_max) per image, and the
    background `base` U(0, 1 - scale) / 2, or U(low, high) for background=(low, high)."""
    scale = rng.uniform(contrast_min, contrast_max, size=_per_image(x)).astype(x.dtype)
    if background is None:
        base = rng.uniform(0, 1, size=scale.shape) * (1 - scale) / 2
    else:
        base = rng.uniform(*background, size=scale.shape)
    return base.astype(x.dtype) + scale * x


def blur(x, sigma):
    sig = (0,) * (x.ndim - 2) + (sigma, sigma)
    return ndimage.gaussian_filter(x, sig, mode="constant")


def stroke_width(x, thicker):
    """Grey dilation with a 3x3 cross (thicker) or 2x2 erosion rescaled to the old peak (thinner)."""
    footprint = _CROSS if thicker else np.ones((2, 2), bool)
    footprint = footprint.reshape((1,) * (x.ndim - 2) + footprint.shape)
    if thicker:
        return ndimage.grey_dilation(x, footprint=footprint, mode="constant")
    thin = ndimage.grey_erosion(x, footprint=footprint, mode="constant")
    axes = tuple(range(1, x.ndim))
    peak, new_peak = x.max(axis=axes, keepdims=True), thin.max(axis=axes, keepdims=True)
    return thin * np.where(new_peak > 0, peak / np.maximum(new_peak, 1e-6), 1).astype(x.dtype)


def stray_line(x, rng, width_max=2.5, width_min=1.0, max_tilt=None, centre_range=5.0):
    """Draw one anti-aliased line per image through a point within `centre_range` px (each axis)
    of the centre: of width U(width_min, width_max) px, at any angle, or for max_tilt=degrees
    within that many degrees of horizontal."""
    n, h, w = len(x), x.shape[-2], x.shape[-1]
    if max_tilt is None:
        angle = rng.uniform(0, np.pi, n)
    else:
        angle = np.deg2rad(rng.uniform(-max_tilt, max_tilt, n))
    cy, cx = rng.uniform(-centre_range, centre_range, (2, n)) + np.array([[(h - 1) / 2],
                                                                          [(w - 1) / 2]])
    width = rng.uniform(width_min, width_max, n)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # distance of every pixel from the line; angle 0 is a horizontal line
    dist = np.abs((yy[None] - cy[:, None, None]) * np.cos(angle)[:, None, None]
                  - (xx[None] - cx[:, None, None]) * np.sin(angle)[:, None, None])
    ink = np.clip(width[:, None, None] / 2 + 0.5 - dist, 0, 1).astype(x.dtype)
    ink = ink.reshape((n,) + (1,) * (x.ndim - 3) + (h, w))
    return np.maximum(x, ink)


def erase_patch(x, rng, size_min=4, size_max=10):
    """Random erasing (cutout): set one axis-aligned rectangle per image, each side U(size_min,
    size_max) whole pixels, anywhere inside the frame, to background 0 (every channel)."""
    n, h, w = len(x), x.shape[-2], x.shape[-1]
    size_max = min(size_max, h, w)
    heights, widths = rng.integers(size_min, size_max + 1, (2, n))
    tops = (rng.random(n) * (h - heights + 1)).astype(int)
    lefts = (rng.random(n) * (w - widths + 1)).astype(int)
    rows, cols = np.arange(h), np.arange(w)
    inside_rows = (rows >= tops[:, None]) & (rows < (tops + heights)[:, None])
    inside_cols = (cols >= lefts[:, None]) & (cols < (lefts + widths)[:, None])
    keep = ~(inside_rows[:, :, None] & inside_cols[:, None, :])
    return x * keep.reshape((n,) + (1,) * (x.ndim - 3) + (h, w)).astype(x.dtype)


def colour_gains(x, rng, strength):
    """Multiply each channel of each image by its own gain U(1 - strength, 1 + strength), clipped
    to [0, 1]: a mild colour (for grey images, brightness) change of (N, C, H, W) batches."""
    shape = (len(x), x.shape[1], 1, 1) if x.ndim == 4 else _per_image(x)
    gains = rng.uniform(1 - strength, 1 + strength, size=shape).astype(x.dtype)
    return np.clip(x * gains, 0, 1)


class PixelAugmenter:
    """Random pixel corruptions of float image batches in [0, 1]; probabilities per image."""

    def __init__(self, p_noise=0.0, noise_sigma=0.3, p_salt_pepper=0.0, salt_pepper_fraction=0.1,
                 p_contrast=0.0, contrast_min=0.25, p_blur=0.0, blur_sigma=1.0, p_thick=0.0,
                 p_thin=0.0, p_line=0.0, p_erase=0.0, p_colour=0.0, colour_strength=0.1):
        probs = dict(p_noise=p_noise, p_salt_pepper=p_salt_pepper, p_contrast=p_contrast,
                     p_blur=p_blur, p_thick=p_thick, p_thin=p_thin, p_line=p_line,
                     p_erase=p_erase, p_colour=p_colour)
        self.config = {k: check_number(k, v, low=0, high=1) for k, v in probs.items()}
        self.config.update(noise_sigma=check_number("noise_sigma", noise_sigma, low=0, high=1),
                           salt_pepper_fraction=check_number("salt_pepper_fraction",
                                                             salt_pepper_fraction, low=0, high=1),
                           contrast_min=check_number("contrast_min", contrast_min, low=0, high=1,
                                                     low_open=True),
                           blur_sigma=check_number("blur_sigma", blur_sigma, low=0),
                           colour_strength=check_number("colour_strength", colour_strength,
                                                        low=0, high=1))

    def get_config(self):
        return dict(self.config)

    @property
    def is_identity(self):
        return not any(v for k, v in self.config.items() if k.startswith("p_"))

    def __call__(self, images, rng):
        check_rng(rng)
        c = self.config
        x = np.array(images, dtype=np.float32 if images.dtype != np.float64 else np.float64)
        steps = [("p_thick", lambda v: stroke_width(v, True)),
                 ("p_thin", lambda v: stroke_width(v, False)),
                 ("p_blur", lambda v: blur(v, c["blur_sigma"])),
                 ("p_line", lambda v: stray_line(v, rng)),
                 ("p_erase", lambda v: erase_patch(v, rng)),
                 ("p_contrast", lambda v: low_contrast(v, rng, c["contrast_min"])),
                 ("p_noise", lambda v: add_noise(v, rng, c["noise_sigma"])),
                 ("p_salt_pepper", lambda v: salt_pepper(v, rng, c["salt_pepper_fraction"])),
                 ("p_colour", lambda v: colour_gains(v, rng, c["colour_strength"]))]
        for key, fn in steps:
            idx = _subset(rng, len(x), c[key]) if c[key] else ()
            if len(idx):
                x[idx] = fn(x[idx])
        return x.astype(images.dtype, copy=False)


class Compose:
    """Apply augmenters in order: Compose([geometric, pixel])(batch, rng). Parts that declare
    `uses_labels` get the batch's labels: Compose([style, geometric])(batch, rng, labels=y)."""

    def __init__(self, augmenters):
        self.augmenters = list(augmenters)

    @property
    def uses_labels(self):
        return any(getattr(aug, "uses_labels", False) for aug in self.augmenters)

    def __call__(self, images, rng, labels=None):
        for aug in self.augmenters:
            images = call_augmenter(aug, images, rng, labels)
        return images
