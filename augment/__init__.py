"""Random geometric variants of digit-image batches, for training-set augmentation.

Depends on numpy and scipy only. Every function takes image batches (N, H, W) or (N, C, H, W),
uint8 or float, returns the same shape and dtype, never modifies its input, and draws every random
number from the `numpy.random.Generator` it is given.

    shift(images, dy, dx)                          exact whole-pixel / bilinear sub-pixel translation
    shifted_variants(images, labels, offsets)      fixed-offset enlargement of a training set
    affine(images, angles, shifts, zooms, shears)  deterministic per-image affine maps
    random_affine(images, rng, rotation, shift, zoom, shear)
    elastic(images, rng, alpha, sigma)             Simard 2003 elastic distortion
    flip_horizontal(images), random_flip(images, rng, p)   left-right mirrors
    Augmenter(**kwargs)(batch, rng)                per-batch pipeline for training loops
    call_augmenter(aug, batch, rng, labels)        calls aug with labels= if it declares uses_labels
"""
from .elastic import displacement_fields, elastic
from .flip import flip_horizontal, random_flip
from .geometric import affine, neighbour_offsets, random_affine, shift, shifted_variants
from .pipeline import Augmenter
from .sampling import call_augmenter

__all__ = ["Augmenter", "affine", "call_augmenter", "displacement_fields", "elastic", "flip_horizontal",
           "neighbour_offsets", "random_flip",
           "random_affine", "shift", "shifted_variants"]
