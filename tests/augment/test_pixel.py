"""Pixel-level corruptions used in training (augment.pixel)."""
import numpy as np
import pytest

from augment.pixel import Compose, PixelAugmenter, add_noise, low_contrast, salt_pepper, \
    stray_line, stroke_width

ALL = dict(p_noise=1.0, p_salt_pepper=1.0, p_contrast=1.0, p_blur=1.0, p_thick=1.0, p_thin=1.0,
           p_line=1.0)


@pytest.fixture
def digits():
    rng = np.random.default_rng(1)
    x = np.zeros((16, 1, 28, 28), np.float32)
    x[:, :, 8:20, 12:16] = rng.uniform(0.6, 1.0, (16, 1, 1, 1))   # a bar "1" per image
    return x


def test_identity_when_all_probabilities_zero(digits):
    aug = PixelAugmenter()
    assert aug.is_identity
    np.testing.assert_array_equal(aug(digits, np.random.default_rng(0)), digits)


def test_shape_dtype_range_and_input_untouched(digits):
    before = digits.copy()
    out = PixelAugmenter(**ALL)(digits, np.random.default_rng(0))
    assert out.shape == digits.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_array_equal(digits, before)
    assert not np.array_equal(out, digits)


def test_same_seed_same_output_different_seed_different(digits):
    aug = PixelAugmenter(**ALL)
    a = aug(digits, np.random.default_rng(5))
    np.testing.assert_array_equal(a, aug(digits, np.random.default_rng(5)))
    assert not np.array_equal(a, aug(digits, np.random.default_rng(6)))


def test_each_corruption_has_its_property(digits):
    rng = np.random.default_rng(0)
    noisy = add_noise(digits, rng, 0.3)
    assert (noisy[:, :, :4, :4] > 0).mean() > 0.2            # background gets noise
    sp = salt_pepper(digits, rng, 0.2)
    changed = sp != digits
    assert set(np.unique(sp[changed])) <= {0.0, 1.0} and changed.mean() < 0.2
    lc = low_contrast(digits, rng, 0.25)
    assert (np.ptp(lc, axis=(1, 2, 3)) <= np.ptp(digits, axis=(1, 2, 3)) + 1e-6).all()
    thick, thin = stroke_width(digits, True), stroke_width(digits, False)
    ink = lambda v: (v > 0.05).sum()
    assert ink(thick) > ink(digits) > ink(thin) > 0
    lined = stray_line(digits, rng)
    assert (lined >= digits).all() and ink(lined) > ink(digits)


def test_probability_out_of_range_names_the_parameter():
    with pytest.raises(ValueError, match="p_line"):
        PixelAugmenter(p_line=1.5)


def test_compose_applies_in_order(digits):
    calls = []
    first = lambda x, rng: (calls.append("a"), x + 1)[1]
    second = lambda x, rng: (calls.append("b"), x * 2)[1]
    out = Compose([first, second])(digits, np.random.default_rng(0))
    np.testing.assert_allclose(out, (digits + 1) * 2)
    assert calls == ["a", "b"]
