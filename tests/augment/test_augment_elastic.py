"""Tests of augment.elastic: Simard-style elastic distortion."""
import numpy as np
import pytest
from scipy import ndimage

import augment
from augment.elastic import gaussian_smooth


@pytest.mark.parametrize("sigma", [1.0, 4.0, 6.5])
def test_smoothing_equals_scipy_gaussian_filter(sigma):
    fields = np.random.default_rng(0).uniform(-1, 1, (5, 28, 20)).astype(np.float32)
    expected = ndimage.gaussian_filter(fields.astype(np.float64), (0, sigma, sigma), mode="constant")
    np.testing.assert_allclose(gaussian_smooth(fields, sigma), expected, atol=1e-6)


def test_fields_scale_with_alpha_and_are_smooth():
    dy, dx = augment.displacement_fields(np.random.default_rng(0), 64, 28, 28, alpha=34, sigma=4)
    assert dy.shape == dx.shape == (64, 28, 28) and dy.dtype == np.float32
    # Uniform(-1, 1) noise smoothed by a sigma=4 Gaussian has std ~0.04; times 34 -> ~1.4 px.
    centre = (slice(None), slice(8, 20), slice(8, 20))
    assert 1.1 < dy[centre].std() < 1.7 and 1.1 < dx[centre].std() < 1.7
    # Zero padding: fields fade towards the border instead of growing there.
    assert np.abs(dy[:, 0, 0]).mean() < np.abs(dy[centre]).mean()
    # Smooth: neighbouring displacements differ far less than the displacements themselves.
    assert np.abs(np.diff(dy, axis=2)).mean() < 0.2 * np.abs(dy).mean()
    dy2, _ = augment.displacement_fields(np.random.default_rng(0), 64, 28, 28, alpha=17, sigma=4)
    np.testing.assert_allclose(dy2, dy / 2, rtol=1e-5, atol=1e-6)


def test_elastic_moves_pixels_by_its_fields(blobs):
    x = blobs.astype(np.float64)
    out = augment.elastic(x, np.random.default_rng(5), alpha=34, sigma=4)
    dy, dx = augment.displacement_fields(np.random.default_rng(5), len(x), 28, 28, 34, 4, np.float64)
    yy, xx = np.mgrid[:28, :28]
    for i in range(len(x)):
        coords = np.stack([yy + dy[i], xx + dx[i]])
        expected = ndimage.map_coordinates(x[i], coords, order=1, mode="grid-constant")
        np.testing.assert_allclose(out[i], expected, atol=1e-6)
    assert not np.allclose(out, x)


def test_elastic_alpha_zero_is_identity_and_seeds_matter(blobs_u8):
    out = augment.elastic(blobs_u8, np.random.default_rng(0), alpha=0, sigma=4)
    assert out is not blobs_u8
    np.testing.assert_array_equal(out, blobs_u8)
    a = augment.elastic(blobs_u8, np.random.default_rng(1), alpha=34, sigma=4)
    b = augment.elastic(blobs_u8, np.random.default_rng(1), alpha=34, sigma=4)
    c = augment.elastic(blobs_u8, np.random.default_rng(2), alpha=34, sigma=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kwargs, message", [
    (dict(alpha=-1, sigma=4), r"alpha must be >= 0 \(received: alpha=-1\)"),
    (dict(alpha=34, sigma=0), r"sigma must be > 0 \(received: sigma=0\)"),
    (dict(alpha=34, sigma=float("inf")), r"sigma must be finite \(received: sigma=inf\)"),
])
def test_elastic_validates_its_parameters(blobs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        augment.elastic(blobs, np.random.default_rng(0), **kwargs)
