"""The contract shared by every transform: shapes, dtypes, value ranges, RNG use and error messages."""
import numpy as np
import pytest

import augment

TRANSFORMS = {
    "shift_int": lambda x, rng: augment.shift(x, 2, -1),
    "shift_sub": lambda x, rng: augment.shift(x, 0.6, -1.3),
    "affine": lambda x, rng: augment.affine(x, angles=25, shifts=(1.2, -0.7), zooms=0.9, shears=0.2),
    "random_affine": lambda x, rng: augment.random_affine(x, rng, rotation=20, shift=2, zoom=0.2, shear=0.3),
    "elastic": lambda x, rng: augment.elastic(x, rng, alpha=34, sigma=4),
    "augmenter": lambda x, rng: augment.Augmenter(rotation=10, shift=2, zoom=0.1, elastic_alpha=30,
                                                  p_elastic=0.5)(x, rng),
}


def batches(blobs):
    """uint8, float32 in [0, 1], standardised float32 and float64, as (N, H, W) and (N, C, H, W)."""
    standardised = (blobs - 0.13) / 0.31
    u8 = np.rint(blobs * 255).astype(np.uint8)
    for x in (u8, blobs, standardised, blobs.astype(np.float64)):
        yield x
        yield np.stack([x, x[::-1]], axis=1)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_shape_dtype_and_value_range_are_preserved(blobs, name):
    for x in batches(blobs):
        before = x.copy()
        out = TRANSFORMS[name](x, np.random.default_rng(0))
        assert out.shape == x.shape and out.dtype == x.dtype
        np.testing.assert_array_equal(x, before)          # input untouched
        # Bilinear sampling with zero fill blends input values and zeros, never beyond them.
        low, high = min(x.min(), 0), max(x.max(), 0)
        assert low - 1e-5 <= out.min() and out.max() <= high + 1e-5
        assert not np.array_equal(out, x)


@pytest.mark.parametrize("name", ["affine", "random_affine", "elastic"])
def test_uint8_result_is_the_rounded_float_result(blobs, name):
    u8 = np.rint(blobs * 255).astype(np.uint8)
    as_uint8 = TRANSFORMS[name](u8, np.random.default_rng(3))
    as_float = TRANSFORMS[name](u8.astype(np.float32), np.random.default_rng(3))
    assert np.abs(as_uint8.astype(np.float32) - as_float).max() <= 0.5 + 1e-3


@pytest.mark.parametrize("name", ["random_affine", "elastic", "augmenter"])
def test_random_transforms_use_only_the_generator_passed(blobs, name):
    np.random.seed(0)
    a = TRANSFORMS[name](blobs, np.random.default_rng(11))
    np.random.seed(1)       # the global RNG must not matter
    b = TRANSFORMS[name](blobs, np.random.default_rng(11))
    c = TRANSFORMS[name](blobs, np.random.default_rng(12))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("call, message", [
    (lambda x, r: augment.random_affine(x, r, rotation=-3), r"rotation must be >= 0 \(received: rotation=-3\)"),
    (lambda x, r: augment.random_affine(x, r, rotation=200), r"rotation must be <= 180 \(received: rotation=200\)"),
    (lambda x, r: augment.random_affine(x, r, shift=-0.5), r"shift must be >= 0 \(received: shift=-0.5\)"),
    (lambda x, r: augment.random_affine(x, r, zoom=1), r"zoom must be < 1 \(received: zoom=1\)"),
    (lambda x, r: augment.random_affine(x, r, shear=float("nan")), r"shear must be finite \(received: shear=nan\)"),
    (lambda x, r: augment.random_affine(x, r, rotation="10"), r"rotation must be a real number \(received: rotation='10'\)"),
    (lambda x, r: augment.shift(x, None, 0), r"dy must be a real number \(received: dy=None\)"),
    (lambda x, r: augment.shift(x[0], 1, 0), r"images must have shape \(N, H, W\) or \(N, C, H, W\) \(received: images.shape=\(28, 28\)\)"),
    (lambda x, r: augment.shift(x.tolist(), 1, 0), r"images must be a numpy array \(received: images of type list\)"),
    (lambda x, r: augment.shift(x.astype(bool), 1, 0), r"images must have an integer or float dtype"),
    (lambda x, r: augment.neighbour_offsets(0), r"distance must be > 0 \(received: distance=0\)"),
])
def test_errors_name_the_parameter_and_value(blobs, call, message):
    with pytest.raises(ValueError, match=message):
        call(blobs, np.random.default_rng(0))


def test_rng_must_be_a_generator(blobs):
    with pytest.raises(TypeError, match=r"rng must be a numpy.random.Generator \(received: rng=0\)"):
        augment.random_affine(blobs, 0, rotation=10)
    with pytest.raises(TypeError, match=r"rng must be a numpy.random.Generator"):
        augment.Augmenter(rotation=10)(blobs, np.random.RandomState(0))


def test_empty_batch_passes_through():
    empty = np.zeros((0, 1, 28, 28), dtype=np.float32)
    out = augment.Augmenter(rotation=10, shift=2, zoom=0.1)(empty, np.random.default_rng(0))
    assert out.shape == empty.shape and out.dtype == np.float32
