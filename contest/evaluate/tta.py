"""Test-time augmentation: average an ensemble's probabilities over small shifts of the input.

Each shift (dy, dx) moves the content of every image by whole pixels (dy > 0 down, dx > 0 right)
with zero fill, via `augment.shift` (exact slicing, no interpolation). `DEFAULT_SHIFTS` is the
original plus the four one-pixel shifts up, down, left and right. Averaging is linear, so the
ensemble average of the members' shift-averaged probabilities equals the shift average of the
ensemble's probabilities. TTA is a prediction-time choice: nothing about it goes into a manifest.
Whether it helps is measured on the validation split by `benchmarks/accuracy.py`.
"""
import numpy as np

from contest.modeldir.ensemble import average

DEFAULT_SHIFTS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


def check_shifts(shifts, image_size):
    """`shifts` as a tuple of (dy, dx) integer pairs; ValueError naming the bad entry, or one
    that moves the whole image out of its frame (`image_size`: (height, width))."""
    height, width = image_size
    shifts = tuple(shifts)
    if not shifts:
        raise ValueError("shifts must name at least one (dy, dx) offset (received: ())")
    checked = []
    for i, offset in enumerate(shifts):
        try:
            dy, dx = offset
        except (TypeError, ValueError):
            raise ValueError(f"shifts[{i}] must be a pair (dy, dx) "
                             f"(received: {offset!r})") from None
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (dy, dx)):
            raise ValueError(f"shifts[{i}] must be whole pixels (received: {offset!r})")
        if abs(int(dy)) >= height or abs(int(dx)) >= width:
            raise ValueError(f"shifts[{i}] moves the whole {height}x{width} image out of its frame "
                             f"(received: {offset!r})")
        checked.append((int(dy), int(dx)))
    return tuple(checked)


def shifted(images, dy, dx):
    """`images` in contest's layout, (N, H, W) grey or (N, H, W, C) colour, moved by (dy, dx),
    same dtype."""
    from augment import shift  # augment loads SciPy (~0.3 s): only --tta pays for it

    if (dy, dx) == (0, 0):
        return images
    if images.ndim == 4:   # colour: shift each channel plane
        planes = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
        return np.ascontiguousarray(shift(planes, dy, dx).transpose(0, 2, 3, 1))
    return shift(images, dy, dx)


def tta_probabilities(ensemble, images, shifts=DEFAULT_SHIFTS, batch_size=1000):
    """(mean (N, K) float32, members (M, N, K) float32): like `LoadedEnsemble.predict_proba`,
    with every member's probabilities averaged over the shifted copies of `images` (one in
    memory at a time), in any layout the ensemble's spec accepts (flat rows too). The ensemble's
    own normalisation is applied to each shifted copy."""
    spec = ensemble.spec
    shifts = check_shifts(shifts, (spec.height, spec.width))
    images = np.asarray(images)
    images = images.reshape((len(images),) + spec.image_shape)   # contest's layout
    total = None
    for dy, dx in shifts:
        members = ensemble.member_probabilities(shifted(images, dy, dx), batch_size)
        if total is None:
            total = members.astype(np.float64)
        else:
            total += members
    members = (total / len(shifts)).astype(np.float32)
    return average(members), members


def probabilities(ensemble, images, batch_size=1000, tta=False):
    """`ensemble.predict_proba`, or `tta_probabilities` with DEFAULT_SHIFTS when `tta`."""
    if tta:
        return tta_probabilities(ensemble, images, DEFAULT_SHIFTS, batch_size)
    return ensemble.predict_proba(images, batch_size)


def describe(tta):
    """One line for command output saying whether and how TTA was used."""
    if not tta:
        return "test-time augmentation: off"
    offsets = ", ".join(f"({dy:+d}, {dx:+d})" for dy, dx in DEFAULT_SHIFTS)
    return f"test-time augmentation: mean over {len(DEFAULT_SHIFTS)} shifts (dy, dx) {offsets}"
