"""Geometric transforms of image batches: shifts, fixed-offset variants and affine maps.

All functions take `images` of shape (N, H, W) or (N, C, H, W), uint8 (any integer dtype) or float,
and return an array of the same shape and dtype (integer results rounded and clipped). The input
is never modified. Coordinates are (y, x) = (row, column); y grows downwards.

Affine parameters describe how the *content* moves. About the image centre, an input point p
(relative to the centre) lands at

    p' = zoom * R(angle) @ Sh(shear) @ p + (shift_y, shift_x)

where R(angle) rotates counter-clockwise on screen by `angle` degrees (as `np.rot90` and
`scipy.ndimage.rotate` do), and Sh(shear) is the horizontal shear x' = x + shear * y, a shear
*factor* (tan of the shear angle: 0.15 is ~8.5 degrees), the slant of handwriting. zoom > 1
enlarges. The whole map is composed into one 2x2 matrix + offset per image and applied with one
bilinear interpolation (order=1, zero fill).
"""
import numpy as np

from .sampling import (centred_grid, check_images, check_number, check_rng, format_value, restore,
                       warp, work_dtype)


def _integer_shift(images, dy, dx):
    """Exact translation by whole pixels: slicing into zeros, no interpolation, any dtype."""
    out = np.zeros_like(images)
    h, w = images.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src_y, dst_y = slice(max(-dy, 0), h - max(dy, 0)), slice(max(dy, 0), h - max(-dy, 0))
    src_x, dst_x = slice(max(-dx, 0), w - max(dx, 0)), slice(max(dx, 0), w - max(-dx, 0))
    out[..., dst_y, dst_x] = images[..., src_y, src_x]
    return out


def shift(images, dy, dx):
    """Translate every image by (dy, dx) pixels; positive dy moves content down, dx right.

    images: (N, H, W) or (N, C, H, W) -> same shape and dtype. Whole-pixel shifts are exact slicing
    with zero fill. Fractional shifts equal `scipy.ndimage.shift(images, (0, [0,] dy, dx), order=1,
    mode='grid-constant')`: bilinear, with the image zero outside its extent, so the result varies
    continuously with the shift (mode 'constant' would blank a whole border row for dy=0.01).
    """
    images = check_images(images)
    dy = check_number("dy", dy)
    dx = check_number("dx", dx)
    if dy.is_integer() and dx.is_integer():
        return _integer_shift(images, int(dy), int(dx))
    # Bilinear shift is separable: blend two whole-pixel shifts along y, then along x.
    work = images.astype(work_dtype(images.dtype))
    iy, ix = int(np.floor(dy)), int(np.floor(dx))
    fy, fx = dy - iy, dx - ix
    if fy:
        work = (1 - fy) * _integer_shift(work, iy, 0) + fy * _integer_shift(work, iy + 1, 0)
    else:
        work = _integer_shift(work, iy, 0)
    if fx:
        work = (1 - fx) * _integer_shift(work, 0, ix) + fx * _integer_shift(work, 0, ix + 1)
    else:
        work = _integer_shift(work, 0, ix)
    return restore(work, images)


def neighbour_offsets(distance=1):
    """The 8 offsets (dy, dx) at Chebyshev distance `distance`, row by row from top-left.

    distance=1 gives (-1,-1), (-1,0), (-1,1), (0,-1), (0,1), (1,-1), (1,0), (1,1).
    """
    distance = check_number("distance", distance, low=0, low_open=True)
    return [(dy * distance, dx * distance) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]


def shifted_variants(images, labels, offsets, include_original=True):
    """Enlarge a training set with copies shifted by fixed offsets.

    images: (N, H, W) or (N, C, H, W); labels: (N, ...) any dtype; offsets: sequence of (dy, dx).
    Returns (images, labels) with K = len(offsets) + include_original blocks of N, block-major:
    the originals first (when include_original), then one block per offset in the given order, so
    output[k * N + i] is variant k of image i and its label is labels[i]. Output size is exactly
    N * K. Memory grows K-fold: 60000 float32 digits with 8 offsets take ~1.7 GB.
    """
    images = check_images(images)
    labels = np.asarray(labels)
    if labels.ndim == 0 or len(labels) != len(images):
        raise ValueError(f"labels must have one entry per image (received: labels.shape={labels.shape} "
                         f"for images.shape={images.shape})")
    offsets = [_check_offset(i, offset) for i, offset in enumerate(offsets)]
    if not offsets and not include_original:
        raise ValueError("offsets must not be empty when include_original=False (received: offsets=[])")
    blocks = [images.copy()] if include_original else []
    blocks += [shift(images, dy, dx) for dy, dx in offsets]
    reps = (len(blocks),) + (1,) * (labels.ndim - 1)
    return np.concatenate(blocks), np.tile(labels, reps)


def _check_offset(i, offset):
    try:
        dy, dx = offset
    except (TypeError, ValueError):
        raise ValueError(f"offsets[{i}] must be a pair (dy, dx) "
                         f"(received: offsets[{i}]={format_value(offset)})") from None
    return check_number(f"offsets[{i}][0]", dy), check_number(f"offsets[{i}][1]", dx)


def _per_image(name, values, n, shape=()):
    """Broadcast a scalar or per-image parameter to (n, *shape) float64, checking it is finite."""
    try:
        array = np.broadcast_to(np.asarray(values, dtype=np.float64), (n,) + shape)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or have shape {(n,) + shape} "
                         f"(received: {name}={format_value(values)})") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (received: {name}={format_value(values)})")
    return array


def inverse_matrices(angles, zooms, shears):
    """Output-to-input 2x2 matrices (N, 2, 2) in (y, x) for angles (degrees), zooms and shears (N,).

    The inverse of zoom * R(angle) @ Sh(shear) is Sh(-shear) @ R(-angle) / zoom.
    """
    theta = np.deg2rad(angles)
    cos, sin = np.cos(theta) / zooms, np.sin(theta) / zooms
    matrices = np.empty(theta.shape + (2, 2))
    matrices[:, 0, 0] = cos
    matrices[:, 0, 1] = sin
    matrices[:, 1, 0] = -shears * cos - sin
    matrices[:, 1, 1] = cos - shears * sin
    return matrices


def affine_positions(matrices, shifts, gy, gx, height, width):
    """Input sampling positions (N, H, W) x 2 for output offsets from the centre gy, gx.

    matrices: (N, 2, 2) from `inverse_matrices`; shifts: (N, 2); gy, gx: (H, W) or (N, H, W).
    """
    dtype = gy.dtype
    m = matrices.astype(dtype)[:, :, :, None, None]
    uy = gy - shifts[:, 0].astype(dtype)[:, None, None]
    ux = gx - shifts[:, 1].astype(dtype)[:, None, None]
    # In place: each fresh (N, H, W) temporary costs more in page faults than the arithmetic.
    ys = np.multiply(m[:, 0, 0], uy)
    ys += dtype.type((height - 1) / 2)
    xs = np.multiply(m[:, 1, 1], ux)
    xs += dtype.type((width - 1) / 2)
    uy *= m[:, 1, 0]
    xs += uy
    ux *= m[:, 0, 1]
    ys += ux
    return ys, xs


def affine(images, angles=0.0, shifts=0.0, zooms=1.0, shears=0.0):
    """Apply one affine map per image (see the module docstring for the parameters' meaning).

    images: (N, H, W) or (N, C, H, W) -> same shape and dtype. angles (degrees), zooms (scale
    factors, > 0) and shears (factors): scalars or (N,); shifts (dy, dx) in pixels: scalar, (2,)
    or (N, 2). Equals `scipy.ndimage.affine_transform(order=1, mode='grid-constant')` per image.
    """
    images = check_images(images)
    n, (h, w) = len(images), images.shape[-2:]
    angles = _per_image("angles", angles, n)
    shifts = _per_image("shifts", shifts, n, (2,))
    zooms = _per_image("zooms", zooms, n)
    shears = _per_image("shears", shears, n)
    if np.any(zooms <= 0):
        raise ValueError(f"zooms must be > 0 (received: zooms={format_value(zooms.min())})")
    gy, gx = centred_grid(h, w, work_dtype(images.dtype))
    matrices = inverse_matrices(angles, zooms, shears)
    return warp(images, lambda start, stop: affine_positions(
        matrices[start:stop], shifts[start:stop], gy, gx, h, w))


def check_affine_ranges(rotation, shift, zoom, shear):
    """Validate the ranges of `random_affine` and return them as floats."""
    return (check_number("rotation", rotation, low=0, high=180),
            check_number("shift", shift, low=0),
            check_number("zoom", zoom, low=0, high=1, high_open=True),
            check_number("shear", shear, low=0))


def draw_affine_params(rng, n, rotation, shift, zoom, shear):
    """Draw n parameter sets uniformly from the ranges: angle in [-rotation, rotation] degrees,
    each shift component in [-shift, shift] px, zoom in [1 - zoom, 1 + zoom], shear in
    [-shear, shear]. Returns angles (n,), shifts (n, 2), zooms (n,), shears (n,)."""
    angles = rng.uniform(-rotation, rotation, n)
    shifts = rng.uniform(-shift, shift, (n, 2))
    zooms = rng.uniform(1 - zoom, 1 + zoom, n)
    shears = rng.uniform(-shear, shear, n)
    return angles, shifts, zooms, shears


def random_affine(images, rng, rotation=0.0, shift=0.0, zoom=0.0, shear=0.0):
    """Random rotation, translation, zoom and shear, drawn independently per image from `rng`.

    images: (N, H, W) or (N, C, H, W) -> same shape and dtype. rotation: max angle in degrees
    (<= 180); shift: max translation in pixels per axis; zoom: max relative scale change (< 1), the
    scale is drawn from [1 - zoom, 1 + zoom]; shear: max shear factor. All zero returns a copy.
    """
    images = check_images(images)
    check_rng(rng)
    ranges = check_affine_ranges(rotation, shift, zoom, shear)
    if not any(ranges):
        return images.copy()
    return affine(images, *draw_affine_params(rng, len(images), *ranges))
