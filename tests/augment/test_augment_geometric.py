"""Tests of augment.geometric: shift, shifted_variants, affine and random_affine."""
import numpy as np
import pytest
from scipy import ndimage

import augment


def shift_reference(images, dy, dx):
    """Slow loop reference of a whole-pixel shift with zero fill."""
    out = np.zeros_like(images)
    h, w = images.shape[-2:]
    for y in range(h):
        for x in range(w):
            if 0 <= y - dy < h and 0 <= x - dx < w:
                out[..., y, x] = images[..., y - dy, x - dx]
    return out


def scipy_affine_reference(image, angle, shift, zoom, shear):
    """The documented forward map zoom * R(angle) @ Sh(shear) + shift, inverted for scipy."""
    t = np.deg2rad(angle)
    forward = zoom * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]) @ np.array([[1, 0], [shear, 1]])
    inverse = np.linalg.inv(forward)
    centre = (np.array(image.shape) - 1) / 2
    offset = centre - inverse @ (centre + np.asarray(shift))
    return ndimage.affine_transform(image, inverse, offset, order=1, mode="grid-constant")


@pytest.mark.parametrize("dy, dx", [(0, 0), (1, 0), (0, -1), (2, -3), (-5, 4), (27, 0), (-30, 2)])
@pytest.mark.parametrize("shape", [(3, 7, 6), (2, 3, 5, 8)])
def test_integer_shift_equals_slicing_with_zero_fill(dy, dx, shape):
    images = np.random.default_rng(1).integers(1, 256, shape).astype(np.uint8)
    out = augment.shift(images, dy, dx)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, shift_reference(images, dy, dx))


def test_integer_valued_float_shift_takes_exact_path(blobs):
    out = augment.shift(blobs, 2.0, -1.0)
    np.testing.assert_array_equal(out, shift_reference(blobs, 2, -1))


@pytest.mark.parametrize("dy, dx", [(0.5, 0.0), (-0.3, 1.7), (2.25, -3.6), (0.0, -0.01)])
def test_subpixel_shift_matches_scipy_grid_constant(blobs, dy, dx):
    x = blobs.astype(np.float64)
    expected = ndimage.shift(x, (0, dy, dx), order=1, mode="grid-constant")
    np.testing.assert_allclose(augment.shift(x, dy, dx), expected, atol=1e-12)
    out32 = augment.shift(blobs, dy, dx)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, expected, atol=1e-5)


def test_subpixel_shift_of_uint8_rounds_the_float_result(blobs_u8):
    expected = ndimage.shift(blobs_u8.astype(np.float64), (0, 0.5, -0.5), order=1, mode="grid-constant")
    out = augment.shift(blobs_u8, 0.5, -0.5)
    assert out.dtype == np.uint8
    assert np.abs(out.astype(np.float64) - expected).max() <= 0.5 + 1e-4


def test_shift_does_not_modify_input(blobs):
    before = blobs.copy()
    augment.shift(blobs, 1.5, -2)
    np.testing.assert_array_equal(blobs, before)


def test_neighbour_offsets():
    assert augment.neighbour_offsets(1) == [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1),
                                           (1, -1), (1, 0), (1, 1)]
    assert augment.neighbour_offsets(2)[0] == (-2, -2) and len(augment.neighbour_offsets(2)) == 8


def one_marked_pixel_per_image(n, size=9):
    """Image i holds the value i + 1 at the centre, so a shifted copy still tells which image it is."""
    images = np.zeros((n, size, size), dtype=np.uint8)
    images[:, size // 2, size // 2] = np.arange(1, n + 1)
    return images


@pytest.mark.parametrize("include_original", [True, False])
def test_shifted_variants_labels_line_up_and_size_is_exact(include_original):
    n = 6
    images = one_marked_pixel_per_image(n)
    labels = np.arange(n) * 10
    offsets = augment.neighbour_offsets(1)
    out, out_labels = augment.shifted_variants(images, labels, offsets, include_original=include_original)
    blocks = len(offsets) + include_original
    assert out.shape == (n * blocks, 9, 9) and out_labels.shape == (n * blocks,)
    # The marked value identifies the source image, so it must agree with the label.
    np.testing.assert_array_equal(out.max(axis=(1, 2)).astype(int) - 1, out_labels // 10)
    variants = out[n:] if include_original else out
    for k, (dy, dx) in enumerate(offsets):
        np.testing.assert_array_equal(variants[k * n:(k + 1) * n], augment.shift(images, dy, dx))
    if include_original:
        np.testing.assert_array_equal(out[:n], images)


def test_shifted_variants_keeps_label_rows_of_one_hot_labels():
    images = one_marked_pixel_per_image(3)
    onehot = np.eye(3, dtype=np.float32)
    out, labels = augment.shifted_variants(images, onehot, [(1, 0), (0, 2)])
    assert labels.shape == (9, 3)
    np.testing.assert_array_equal(labels.argmax(axis=1), out.max(axis=(1, 2)) - 1)


def test_shifted_variants_rejects_bad_arguments():
    images = one_marked_pixel_per_image(3)
    with pytest.raises(ValueError, match=r"labels must have one entry per image"):
        augment.shifted_variants(images, np.arange(4), [(1, 0)])
    with pytest.raises(ValueError, match=r"offsets\[1\] must be a pair"):
        augment.shifted_variants(images, np.arange(3), [(1, 0), 3])
    with pytest.raises(ValueError, match=r"offsets must not be empty"):
        augment.shifted_variants(images, np.arange(3), [], include_original=False)


@pytest.mark.parametrize("angle, k", [(90, 1), (-90, -1), (180, 2)])
def test_right_angle_rotation_equals_rot90(blobs, angle, k):
    out = augment.affine(blobs, angles=angle)
    np.testing.assert_allclose(out, np.rot90(blobs, k, axes=(1, 2)), atol=1e-5)


def test_directions_of_rotation_shift_and_shear():
    image = np.zeros((1, 21, 21))
    image[0, 10, 14] = 1.0                       # 4 px right of the centre
    up = augment.affine(image, angles=90)       # counter-clockwise: right -> up
    assert np.unravel_index(up[0].argmax(), (21, 21)) == (6, 10)
    down_left = augment.affine(image, shifts=(3, -2))
    assert np.unravel_index(down_left[0].argmax(), (21, 21)) == (13, 12)
    below = np.zeros((1, 21, 21))
    below[0, 14, 10] = 1.0                       # 4 px below the centre; x' = x + 0.5 * y
    sheared = augment.affine(below, shears=0.5)
    assert np.unravel_index(sheared[0].argmax(), (21, 21)) == (14, 12)


def test_affine_matches_scipy_affine_transform_per_image(blobs):
    rng = np.random.default_rng(3)
    n = len(blobs)
    angles, shifts = rng.uniform(-30, 30, n), rng.uniform(-3, 3, (n, 2))
    zooms, shears = rng.uniform(0.8, 1.2, n), rng.uniform(-0.3, 0.3, n)
    x = blobs.astype(np.float64)
    out = augment.affine(x, angles, shifts, zooms, shears)
    for i in range(n):
        expected = scipy_affine_reference(x[i], angles[i], shifts[i], zooms[i], shears[i])
        np.testing.assert_allclose(out[i], expected, atol=1e-10)


def test_affine_applies_one_map_to_all_channels(blobs):
    stacked = np.stack([blobs, 1 - blobs, blobs * 3], axis=1)          # (N, 3, H, W)
    out = augment.affine(stacked, angles=17.0, shifts=(1.5, -0.5), zooms=1.1, shears=0.1)
    for c in range(3):
        expected = augment.affine(stacked[:, c], angles=17.0, shifts=(1.5, -0.5), zooms=1.1, shears=0.1)
        np.testing.assert_allclose(out[:, c], expected, rtol=1e-6, atol=1e-6)


def test_zero_parameters_return_input_unchanged(blobs, blobs_u8):
    for images in (blobs, blobs_u8, blobs[:, None], blobs.astype(np.float64) * 7 - 3):
        rng = np.random.default_rng(0)
        for out in (augment.affine(images), augment.random_affine(images, rng),
                    augment.shift(images, 0, 0)):
            assert out is not images and out.dtype == images.dtype
            np.testing.assert_array_equal(out, images)


def test_random_affine_same_seed_same_output_different_seed_different(blobs):
    kwargs = dict(rotation=15, shift=2, zoom=0.1, shear=0.2)
    a = augment.random_affine(blobs, np.random.default_rng(7), **kwargs)
    b = augment.random_affine(blobs, np.random.default_rng(7), **kwargs)
    c = augment.random_affine(blobs, np.random.default_rng(8), **kwargs)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # Each image draws its own parameters.
    twins = np.repeat(blobs[:1], 4, axis=0)
    out = augment.random_affine(twins, np.random.default_rng(7), **kwargs)
    assert not np.allclose(out[0], out[1])


def test_affine_rejects_bad_parameters(blobs):
    with pytest.raises(ValueError, match=r"zooms must be > 0 \(received: zooms=-1\.0\)"):
        augment.affine(blobs, zooms=-1.0)
    with pytest.raises(ValueError, match=r"angles must be a number or have shape \(8,\)"):
        augment.affine(blobs, angles=np.zeros(3))
    with pytest.raises(ValueError, match=r"shifts must be finite"):
        augment.affine(blobs, shifts=(np.nan, 0))


def test_batches_larger_than_one_chunk_match_image_by_image(blob_factory):
    images = blob_factory(37, seed=4)                  # > 2 chunks of 16 digits
    rng = np.random.default_rng(9)
    angles, shifts = rng.uniform(-20, 20, 37), rng.uniform(-2, 2, (37, 2))
    out = augment.affine(images, angles, shifts, 1.05, 0.1)
    for i in (0, 15, 16, 31, 32, 36):
        single = augment.affine(images[i:i + 1], angles[i], shifts[i], 1.05, 0.1)
        np.testing.assert_array_equal(out[i], single[0])
