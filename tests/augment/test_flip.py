"""Horizontal flips: exact mirrors, drawn per image from the Generator, and an Augmenter without
flips draws exactly what it drew before flips existed."""
import numpy as np
import pytest

import augment
from augment.flip import apply_flips


def test_flip_horizontal_reverses_the_last_axis_of_grey_and_colour_batches(blobs_u8):
    grey = blobs_u8[:4]
    colour = np.stack([grey, grey // 2, grey // 3], axis=1)
    for batch in (grey, colour):
        out = augment.flip_horizontal(batch)
        assert out.shape == batch.shape and out.dtype == batch.dtype
        np.testing.assert_array_equal(out[..., 0], batch[..., -1])
        np.testing.assert_array_equal(augment.flip_horizontal(out), batch)


def test_random_flip_mirrors_each_image_with_probability_p(blobs):
    x = np.repeat(blobs[:1], 400, axis=0)
    out = augment.random_flip(x, np.random.default_rng(3), p=0.3)
    mirrored = np.all(out == x[:, :, ::-1], axis=(1, 2))
    kept = np.all(out == x, axis=(1, 2))
    assert np.all(mirrored ^ kept)                       # each image one or the other, exactly
    assert 80 < mirrored.sum() < 160                     # about 30 % of 400
    np.testing.assert_array_equal(out, augment.random_flip(x, np.random.default_rng(3), p=0.3))


def test_random_flip_extremes_and_bad_probability(blobs):
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(augment.random_flip(blobs, rng, p=0.0), blobs)
    np.testing.assert_array_equal(augment.random_flip(blobs, rng, p=1.0), blobs[..., ::-1])
    with pytest.raises(ValueError, match="p_flip"):
        augment.random_flip(blobs, rng, p=1.5)


def test_augmenter_flips_after_its_geometry_with_draws_after_the_others(blobs):
    x = blobs[:, None]
    plain = augment.Augmenter(shift=2.0, zoom=0.1)(x, np.random.default_rng(7))
    flipped = augment.Augmenter(shift=2.0, zoom=0.1, p_flip=1.0)(x, np.random.default_rng(7))
    np.testing.assert_array_equal(flipped, plain[..., ::-1])
    half = augment.Augmenter(shift=2.0, zoom=0.1, p_flip=0.5)(x, np.random.default_rng(7))
    rng = np.random.default_rng(7)
    augment.Augmenter(shift=2.0, zoom=0.1)(x, rng)       # the same geometry draws first
    np.testing.assert_array_equal(half, apply_flips(plain, rng.random(len(x)) < 0.5))


def test_flip_only_augmenter_is_not_identity_and_keeps_the_input(blobs):
    aug = augment.Augmenter(p_flip=1.0)
    assert not aug.is_identity and aug.get_config()["p_flip"] == 1.0
    x = blobs.copy()
    np.testing.assert_array_equal(aug(x, np.random.default_rng(0)), blobs[..., ::-1])
    np.testing.assert_array_equal(x, blobs)
