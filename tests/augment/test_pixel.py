"""Pixel-level corruptions used in training (augment.pixel)."""
import numpy as np
import pytest

from augment.pixel import Compose, PixelAugmenter, add_noise, low_contrast, salt_pepper, \
    erase_patch, stray_line, stroke_width

ALL = dict(p_noise=1.0, p_salt_pepper=1.0, p_contrast=1.0, p_blur=1.0, p_thick=1.0, p_thin=1.0,
           p_line=1.0, p_erase=1.0)


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


def test_ranges_with_a_lower_bound_are_kept(digits):
    """The optional lower bounds (used by contest's robustness variants at fixed severities)."""
    rng = np.random.default_rng(3)
    blank = np.zeros((400, 28, 28), np.float32)
    noisy = add_noise(blank, rng, 0.3, sigma_min=0.25)
    sigma = np.sqrt(2 * np.mean(noisy ** 2, axis=(1, 2)))   # clipped at 0: E[v^2] = sigma^2 / 2
    # per-image estimates from 784 pixels scatter by ~4 %; sigma U(0, 0.3) would reach 0
    assert 0.22 < sigma.min() and sigma.max() < 0.34 and 0.26 < sigma.mean() < 0.29
    salted = np.mean(salt_pepper(blank, rng, 0.10, fraction_min=0.08) == 1, axis=(1, 2))
    # salt is half the fraction: 4-5 % per image (binomial scatter ~0.7 %), U(0, 0.1) would give 0
    assert 0.012 < salted.min() and salted.max() < 0.08 and 0.04 < salted.mean() < 0.05
    faint = low_contrast(digits, rng, 0.25, contrast_max=0.35, background=(0.05, 0.15))
    floor = faint.min(axis=(1, 2, 3))
    gain = (faint.max(axis=(1, 2, 3)) - floor) / digits.max(axis=(1, 2, 3))
    assert np.all((floor >= 0.05) & (floor <= 0.15) & (gain >= 0.25 - 1e-6) & (gain <= 0.35 + 1e-6))


def test_a_tilted_stray_line_stays_near_horizontal():
    blank = np.zeros((64, 28, 28), np.float32)
    lined = stray_line(blank, np.random.default_rng(0), width_max=2, width_min=2, max_tilt=30,
                       centre_range=4.5)
    for image in lined:
        rows, cols = np.nonzero(image == 1)
        slope = np.polyfit(cols, rows, 1)[0]
        assert abs(np.degrees(np.arctan(slope))) <= 31


def test_colour_gains_scale_each_channel_of_each_image_within_the_strength():
    from augment.pixel import PixelAugmenter

    x = np.full((50, 3, 6, 6), 0.5, np.float32)
    out = PixelAugmenter(p_colour=1.0, colour_strength=0.2)(x, np.random.default_rng(0))
    gains = out[:, :, 0, 0] / 0.5
    assert np.all((gains >= 0.8 - 1e-6) & (gains <= 1.2 + 1e-6))
    np.testing.assert_allclose(out, np.broadcast_to(gains[:, :, None, None] * 0.5, x.shape),
                               rtol=1e-6)                                     # one per channel
    assert np.ptp(gains[:, 0] - gains[:, 1]) > 0                                 # channels differ
    np.testing.assert_array_equal(PixelAugmenter(p_colour=1.0, colour_strength=0.2)(
        x, np.random.default_rng(0)), out)
    assert PixelAugmenter(p_colour=1.0)(np.ones((4, 3, 6, 6), np.float32),
                                        np.random.default_rng(1)).max() <= 1.0


def test_erase_patch_blanks_one_rectangle_per_image_inside_the_frame():
    x = np.ones((64, 1, 28, 28), np.float32)
    out = erase_patch(x, np.random.default_rng(3), size_min=4, size_max=10)
    for image in out[:, 0]:
        rows, cols = np.nonzero(image == 0)
        height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert 4 <= height <= 10 and 4 <= width <= 10
        assert len(rows) == height * width          # one filled rectangle, nothing else
        assert set(np.unique(image)) == {0.0, 1.0}
    many = erase_patch(np.ones((512, 28, 28), np.float32), np.random.default_rng(4))
    sides = many[:, 0, :], many[:, -1, :], many[:, :, 0], many[:, :, -1]
    assert all((side == 0).any() for side in sides)  # patches reach every side of the frame


def test_erase_probability_reaches_the_augmenter(digits):
    out = PixelAugmenter(p_erase=1.0)(np.ones_like(digits), np.random.default_rng(0))
    assert ((out == 0).sum(axis=(1, 2, 3)) >= 16).all()
    untouched = PixelAugmenter(p_erase=0.0)(np.ones_like(digits), np.random.default_rng(0))
    assert (untouched == 1).all()
