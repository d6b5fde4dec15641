"""Horizontal flips: the mirror image keeps the class of clothes, objects and most photographs,
never of digits or letters (a mirrored 2 or 7 is no digit), so flips are for the data that allow
them; the caller decides.

    flip_horizontal(images)               every image mirrored left to right
    random_flip(images, rng, p)           each image mirrored with probability p
"""
import numpy as np

from .sampling import check_images, check_number, check_rng


def flip_horizontal(images):
    """(N, H, W) or (N, C, H, W) -> a new array of the same shape and dtype, each image mirrored
    left to right (the last axis reversed)."""
    images = check_images(images)
    return np.ascontiguousarray(images[..., ::-1])


def flip_mask(rng, n, p):
    """Which of `n` images to flip: one draw per image from `rng` (none drawn when p is 0)."""
    if p <= 0:
        return np.zeros(n, dtype=bool)
    return rng.random(n) < p


def random_flip(images, rng, p=0.5):
    """Each image of the batch mirrored left to right with probability `p`; a new array."""
    images = check_images(images)
    check_rng(rng)
    p = check_number("p_flip", p, low=0, high=1)
    return apply_flips(images, flip_mask(rng, len(images), p))


def apply_flips(images, mask):
    """A copy of `images` with the images where `mask` is True mirrored left to right."""
    out = images.copy()
    chosen = np.flatnonzero(mask)
    if chosen.size:
        out[chosen] = images[chosen][..., ::-1]
    return out
