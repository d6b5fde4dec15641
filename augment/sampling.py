"""Shared machinery of the transforms: argument checks, dtype round-trips and the bilinear sampler.

Image batches are (N, H, W) or (N, C, H, W), uint8 (any integer dtype) or float. Internally every
transform works on an (N, C, H, W) view and computes in a float "work" dtype: float64 for float64
input, float32 for everything else (float32 is ~2x faster and exact enough for 8-bit images).
Integer results are rounded and clipped to the dtype's range; float results are never clipped, so
any normalisation of the input (e.g. mean/std standardised pixels) survives.

Geometry convention shared by all transforms: pixel (y, x) has its centre at integer coordinates,
the image centre is ((H - 1) / 2, (W - 1) / 2), and the image is zero outside its extent
(`scipy.ndimage` mode ``'grid-constant'``), so sampled values vary continuously with the position.
"""
import functools
import numbers

import numpy as np


def format_value(value):
    """Render a received argument for an error message (plain numbers, not numpy reprs)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return repr(float(value))
    return repr(value)


def check_number(name, value, low=None, high=None, low_open=False, high_open=False):
    """Return `value` as a float after checking it is a finite real in the given range.

    Raises ValueError naming the parameter and the value received, e.g.
    "rotation must be >= 0 (received: rotation=-3)".
    """
    received = f"(received: {name}={format_value(value)})"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number {received}")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite {received}")
    if low is not None and (number <= low if low_open else number < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g} {received}")
    if high is not None and (number >= high if high_open else number > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high:g} {received}")
    return number


def call_augmenter(augmenter, images, rng, labels=None):
    """augmenter(images, rng), or augmenter(images, rng, labels=labels) for one that declares
    `uses_labels` (a class-specific variant, such as a style drawn on one digit only)."""
    if getattr(augmenter, "uses_labels", False):
        return augmenter(images, rng, labels=labels)
    return augmenter(images, rng)


def check_rng(rng):
    """Insist on a Generator: the global NumPy RNG would make forked workers draw identical streams."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (received: rng={format_value(rng)})")
    return rng


def check_images(images, name="images"):
    """Return `images` as an ndarray after checking its layout: (N, H, W) or (N, C, H, W)."""
    if not isinstance(images, np.ndarray):
        raise ValueError(f"{name} must be a numpy array (received: {name} of type {type(images).__name__})")
    if images.ndim not in (3, 4):
        raise ValueError(f"{name} must have shape (N, H, W) or (N, C, H, W) "
                         f"(received: {name}.shape={images.shape})")
    kind = images.dtype.kind
    if kind not in "uif":
        raise ValueError(f"{name} must have an integer or float dtype (received: {name}.dtype={images.dtype})")
    if images.shape[-1] == 0 or images.shape[-2] == 0:
        raise ValueError(f"{name} must have non-empty H and W (received: {name}.shape={images.shape})")
    return images


def as_nchw(images):
    """View (N, H, W) as (N, 1, H, W); (N, C, H, W) is returned as is."""
    return images[:, None] if images.ndim == 3 else images


def work_dtype(dtype):
    """float64 stays float64; integers and smaller floats compute in float32."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


def restore(result, like):
    """Bring a float result back to the shape and dtype of `like` (integers rounded and clipped)."""
    result = result.reshape(like.shape)
    if like.dtype.kind in "ui":
        info = np.iinfo(like.dtype)
        np.rint(result, out=result)
        np.clip(result, info.min, info.max, out=result)
    return result.astype(like.dtype, copy=False)


@functools.lru_cache(maxsize=16)
def centred_grid(height, width, dtype=np.float32):
    """Output pixel coordinates relative to the image centre: two read-only (H, W) arrays (gy, gx)."""
    gy = np.arange(height, dtype=np.float64) - (height - 1) / 2
    gx = np.arange(width, dtype=np.float64) - (width - 1) / 2
    gy, gx = np.meshgrid(gy.astype(dtype), gx.astype(dtype), indexing="ij")
    gy.flags.writeable = False
    gx.flags.writeable = False
    return gy, gx


# Sample points per chunk in `warp`: 16 digits of 28x28. Temporaries of this size stay in L2 cache
# and below malloc's mmap threshold; one whole batch of 128 at once ran 2-3x slower (page faults
# on every fresh 400 KB temporary).
CHUNK_POINTS = 16 * 28 * 28


def warp(images, positions):
    """Resample a batch: output image i, pixel (y, x) shows images[i] at positions of image i.

    images: (N, H, W) or (N, C, H, W), any supported dtype; positions(start, stop) returns the
    absolute input positions (ys, xs), each (stop - start, H, W), for images[start:stop]. All
    channels of an image share its positions. Returns a new array of images' shape and dtype.
    """
    nchw = as_nchw(images)
    n, c, h, w = nchw.shape
    out = np.empty_like(nchw)
    chunk = max(1, CHUNK_POINTS // (c * h * w))
    # A loop over blocks of images, not over images: each block is fully vectorised.
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        ys, xs = positions(start, stop)
        out[start:stop] = restore(bilinear(nchw[start:stop], ys, xs), nchw[start:stop])
    return out.reshape(images.shape)


def bilinear(images, ys, xs):
    """Sample every channel of `images` (N, C, H, W) at positions `ys`, `xs` (N, H, W).

    Positions are absolute pixel coordinates of the input; outside the image the input counts as
    zero (mode 'grid-constant', order=1). Returns (N, C, H, W) in the work dtype.

    One vectorised gather for the whole block: 4-5x faster than one scipy `affine_transform` call
    per image, and than one `map_coordinates` call on the stacked batch (which interpolates
    trilinearly, 8 taps, along the batch axis too); see benchmarks/augment_speed.py.
    """
    n, c, h, w = images.shape
    dtype = work_dtype(images.dtype)
    # A one-pixel zero border makes every neighbour index valid, so no masks are needed.
    padded = np.zeros((n, c, h + 2, w + 2), dtype=dtype)
    padded[:, :, 1:-1, 1:-1] = images
    fy, y0 = _split(ys, h, dtype)
    fx, x0 = _split(xs, w, dtype)
    index = _top_left_index(y0, x0, n, c, h, w)
    return _interpolate(padded.reshape(-1), index, fy[:, None], fx[:, None], w + 2)


def _top_left_index(y0, x0, n, c, h, w):
    """Flat indices (N, C, H, W) into the zero-bordered block of each sample's top-left tap."""
    row, plane = w + 2, (h + 2) * (w + 2)
    # The index within a plane is built in float (exact: a plane has far fewer than 2**24 pixels)
    # so that only one integer cast is needed; +row +1 steps over the zero border.
    y0 *= row
    y0 += x0
    y0 += row + 1
    index = y0.astype(np.intp)
    plane_offsets = np.arange(n * c, dtype=np.intp).reshape(n, c, 1, 1) * plane
    if c == 1:
        index = index[:, None]
        index += plane_offsets
        return index
    return index[:, None] + plane_offsets


def _interpolate(flat, index, fy, fx, row):
    """Bilinear blend of the four taps at `index`, `index`+1, +row, +row+1 (`index` is reused)."""
    # In place from here on: fresh temporaries cost more than the arithmetic.
    top = flat[index]
    index += 1
    right = flat[index]
    right -= top
    right *= fx
    top += right
    index += row - 1
    bottom = flat[index]
    index += 1
    flat.take(index, out=right)
    right -= bottom
    right *= fx
    bottom += right
    bottom -= top
    bottom *= fy
    bottom += top
    return bottom


def _split(positions, size, dtype):
    """Clip positions to [-1, size] (beyond that the value is zero anyway); return (frac, floor).

    The floor is clamped to size - 1 so that floor + 1 stays inside the zero border.
    """
    frac = np.clip(positions, -1, size, dtype=dtype)
    floor = np.floor(frac)
    np.minimum(floor, size - 1, out=floor)
    frac -= floor
    return frac, floor
