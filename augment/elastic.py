"""Elastic distortion (Simard, Steinkraus and Platt, ICDAR 2003) of image batches.

Each image gets two random displacement fields (dy, dx) of shape (H, W), drawn uniform in (-1, 1),
smoothed by a Gaussian of width `sigma` pixels and scaled by `alpha`; output pixel (y, x) then shows
the input at (y + dy, x + dx), sampled bilinearly (order=1) with zero fill. Simard's values for
28x28 digits: alpha=34, sigma=4 (displacements of ~1.7 px, smooth over ~4 px).
"""
import numpy as np
from scipy import ndimage

from .sampling import (as_nchw, bilinear, centred_grid, check_images, check_number, check_rng,
                       restore, work_dtype)


def check_elastic_ranges(alpha, sigma):
    """Validate alpha (>= 0) and sigma (> 0) and return them as floats."""
    return check_number("alpha", alpha, low=0), check_number("sigma", sigma, low=0, low_open=True)


def displacement_fields(rng, n, height, width, alpha, sigma, dtype=np.float32):
    """Draw n smoothed random fields: returns (dy, dx), each (n, H, W) in `dtype`.

    Both components of the whole batch go through one gaussian_filter call on a (2n, H, W) stack
    with sigma 0 along the stack axis, so the smoothing is vectorised and never mixes images.
    """
    check_rng(rng)
    alpha, sigma = check_elastic_ranges(alpha, sigma)
    noise = rng.random((2 * n, height, width), dtype=np.float32)
    noise *= 2
    noise -= 1
    # 'reflect' keeps the field's statistics uniform right up to the border.
    smooth = ndimage.gaussian_filter(noise, sigma=(0, sigma, sigma), order=0, mode="reflect")
    smooth *= alpha
    smooth = smooth.astype(dtype, copy=False)
    return smooth[:n], smooth[n:]


def elastic(images, rng, alpha, sigma):
    """Elastic distortion with fields drawn from `rng`; alpha=0 returns a copy.

    images: (N, H, W) or (N, C, H, W), uint8 or float -> same shape and dtype. All channels of an
    image share one field. alpha: displacement scale in pixels per unit of smoothed noise (>= 0);
    sigma: Gaussian smoothing width in pixels (> 0).
    """
    images = check_images(images)
    check_rng(rng)
    alpha, sigma = check_elastic_ranges(alpha, sigma)
    if alpha == 0:
        return images.copy()
    n, (h, w) = len(images), images.shape[-2:]
    dtype = work_dtype(images.dtype)
    dy, dx = displacement_fields(rng, n, h, w, alpha, sigma, dtype)
    gy, gx = centred_grid(h, w, dtype)
    ys = dy + (gy + dtype.type((h - 1) / 2))
    xs = dx + (gx + dtype.type((w - 1) / 2))
    return restore(bilinear(as_nchw(images), ys, xs), images)
