"""The one place where images become model input.

Images arrive as uint8 0-255 or float 0-1 in contest's layout for the ensemble's InputSpec ((N, H, W)
grey, (N, H, W, C) colour; MNIST's (N, 784) and (N, 1, 28, 28) too); the model sees float32
(N, C, H, W). `normalise(images, name, spec)` = `to_unit_nchw` (layout and
0-1 scale) followed by the named per-image normalisation. Training and prediction both go through
here with the name recorded in the ensemble manifest, so the two can never drift apart. Training
applies the named step per batch, after augmentation (`BatchTransform`), so augmentation always
works on 0-1 images whose background is 0; since every normalisation is per image, normalising per
batch equals normalising the whole set.
"""
import numpy as np


DEFAULT_NORMALISATION = "unit"


def to_unit_nchw(images, spec):
    """float32 (N, C, H, W) copy of `images` scaled to [0, 1] (uint8 divided by 255)."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        x = images.astype(np.float32) / np.float32(255.0)
    else:
        x = images.astype(np.float32, copy=True)
    if spec.channels == 1:
        return x.reshape((-1,) + spec.model_shape)
    hwc = x.reshape((-1,) + spec.image_shape)
    return np.ascontiguousarray(hwc.transpose(0, 3, 1, 2))


def _unit(x):
    return x


def _standardise(x):
    # per-image standardisation: invariant to the contrast and brightness of the whole image
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    std = x.std(axis=(1, 2, 3), keepdims=True)
    return (x - mean) / np.maximum(std, np.float32(1e-3))


def _deskew_standardise(x):
    # the digit's mass centred and its slant removed (from its second moments), then standardised
    return _standardise(deskew(x))


def _moments(ink, gy, gx):
    """Per image of `ink` (N, H, W): mass centre (my, mx) from the frame's centre and slant
    cov(x, y) / var(y), each (N,)."""
    total = np.maximum(ink.sum(axis=(1, 2)), np.float32(1e-6))
    my = (ink * gy).sum(axis=(1, 2)) / total
    mx = (ink * gx).sum(axis=(1, 2)) / total
    dy = gy - my[:, None, None]
    var_y = (ink * dy * dy).sum(axis=(1, 2)) / total
    cov = (ink * dy * (gx - mx[:, None, None])).sum(axis=(1, 2)) / total
    return my, mx, cov / np.maximum(var_y, np.float32(1e-6))


def deskew(x):
    """0-1 images (N, C, H, W), each resampled (bilinear) so that its ink's mass centre sits at
    the frame's centre and its slant is gone: output (y, x) shows input (y + my, x + slant * y
    + mx), y and x measured from the centre. Blank images stay blank."""
    from augment.sampling import centred_grid, warp   # SciPy comes with augment: only deskew pays

    n, c, h, w = x.shape
    gy, gx = centred_grid(h, w, np.float32)
    my, mx, slant = (v.astype(np.float32) for v in _moments(x.sum(axis=1), gy, gx))
    my += np.float32((h - 1) / 2)
    mx += np.float32((w - 1) / 2)

    def positions(start, stop):
        ys = gy + my[start:stop, None, None]
        xs = gx + slant[start:stop, None, None] * gy + mx[start:stop, None, None]
        return ys, xs

    return warp(x, positions)


NORMALISATIONS = {"unit": _unit, "standardise": _standardise, "deskew": _deskew_standardise}


def check_normalisation(name):
    if name not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {name!r}; choose one of {sorted(NORMALISATIONS)}")
    return name


def apply_normalisation(x, name=DEFAULT_NORMALISATION):
    """The named per-image normalisation of 0-1 images (N, C, H, W), as float32."""
    return NORMALISATIONS[check_normalisation(name)](x).astype(np.float32, copy=False)


def normalise(images, name, spec):
    """Model input float32 (N, C, H, W) from images in contest's layout, uint8 or 0-1 floats."""
    return apply_normalisation(to_unit_nchw(images, spec), name)


class BatchTransform:
    """`fit`'s per-batch hook: augment 0-1 images (if an augmenter is given), then normalise."""

    def __init__(self, augmenter=None, normalisation=DEFAULT_NORMALISATION):
        self.augmenter = augmenter
        self.normalisation = check_normalisation(normalisation)

    @property
    def uses_labels(self):
        return bool(getattr(self.augmenter, "uses_labels", False))

    def __call__(self, batch, rng, labels=None):
        if self.augmenter is not None:
            from augment import call_augmenter   # augment (and SciPy) only where training needs it

            batch = call_augmenter(self.augmenter, batch, rng, labels)
        return apply_normalisation(batch, self.normalisation)

    @property
    def is_identity(self):
        return self.augmenter is None and self.normalisation == "unit"
