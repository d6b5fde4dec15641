"""Tests of augment.Augmenter, the per-batch pipeline a training loop calls."""
import json

import numpy as np
import pytest

import augment

DEFAULT = {"rotation": 10.0, "shift": 2.0, "zoom": 0.1}


def test_built_from_a_preset_dict_and_config_round_trips_through_json():
    aug = augment.Augmenter(**DEFAULT)
    config = aug.get_config()
    assert config == {"rotation": 10.0, "shift": 2.0, "zoom": 0.1, "shear": 0.0,
                      "elastic_alpha": 0.0, "elastic_sigma": 4.0, "p_affine": 1.0, "p_elastic": 1.0,
                      "p_flip": 0.0}
    assert augment.Augmenter(**json.loads(json.dumps(config))) == aug
    assert augment.Augmenter(**DEFAULT, shear=0.1) != aug
    assert repr(aug).startswith("Augmenter(rotation=10.0, shift=2.0, zoom=0.1")


def test_augments_each_batch_of_a_training_loop(blobs):
    aug = augment.Augmenter(**DEFAULT)
    rng = np.random.default_rng(0)
    x = np.repeat(blobs, 4, axis=0)[:, None]          # (32, 1, 28, 28) float32
    outs = [aug(x[i:i + 8], rng) for i in range(0, 32, 8)]
    for i, out in enumerate(outs):
        assert out.shape == (8, 1, 28, 28) and out.dtype == np.float32
        assert not np.allclose(out, x[8 * i:8 * i + 8])
        # Small transforms keep the ink: total intensity changes only by the zoom factor squared.
        ratio = out.sum(axis=(1, 2, 3)) / x[8 * i:8 * i + 8].sum(axis=(1, 2, 3))
        assert np.all((ratio > 0.75) & (ratio < 1.3))
    # Consecutive batches draw fresh parameters from the advancing generator.
    assert not np.allclose(outs[0], outs[1])


def test_same_seed_same_batch_different_seed_different(blobs_u8):
    aug = augment.Augmenter(**DEFAULT, shear=0.1, elastic_alpha=34, p_elastic=0.5)
    a = aug(blobs_u8, np.random.default_rng(42))
    b = aug(blobs_u8, np.random.default_rng(42))
    c = aug(blobs_u8, np.random.default_rng(43))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_identity_augmenter_returns_an_exact_copy(blobs):
    x = (blobs[:, None] - 0.5) * 4                     # any range, not only [0, 1]
    for aug in (augment.Augmenter(), augment.Augmenter(**DEFAULT, p_affine=0.0),
                augment.Augmenter(elastic_alpha=34, p_elastic=0.0)):
        assert aug.is_identity
        out = aug(x, np.random.default_rng(0))
        assert out is not x
        np.testing.assert_array_equal(out, x)


def test_probabilities_choose_images_independently():
    x = np.repeat(np.random.default_rng(0).random((1, 1, 12, 12), dtype=np.float32), 200, axis=0)
    out = augment.Augmenter(rotation=30, p_affine=0.3)(x, np.random.default_rng(1))
    unchanged = np.all(out == x, axis=(1, 2, 3))
    # Untouched images are bit-for-bit copies; about 70 % of 200 stay untouched.
    assert 110 < unchanged.sum() < 170
    assert not np.any(np.all(np.isclose(out[~unchanged], x[~unchanged]), axis=(1, 2, 3)))


def test_elastic_alone_and_combined_with_affine_change_images(blobs):
    x = blobs[:, None]
    elastic_only = augment.Augmenter(elastic_alpha=34, elastic_sigma=4)
    both = augment.Augmenter(**DEFAULT, elastic_alpha=34, elastic_sigma=4)
    for aug in (elastic_only, both):
        out = aug(x, np.random.default_rng(0))
        assert np.all(np.abs(out - x).max(axis=(1, 2, 3)) > 0.05)
    # With elastic disabled, the same draws give a pure affine result, which elastic then alters.
    affine_only = augment.Augmenter(**DEFAULT)(x, np.random.default_rng(0))
    assert not np.allclose(both(x, np.random.default_rng(0)), affine_only)


def test_channels_share_one_transform(blobs):
    x = np.stack([blobs, 2 * blobs], axis=1)
    out = augment.Augmenter(**DEFAULT, elastic_alpha=20)(x, np.random.default_rng(0))
    np.testing.assert_allclose(out[:, 1], 2 * out[:, 0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(rotation=-3), r"rotation must be >= 0 \(received: rotation=-3\)"),
    (dict(zoom=1.5), r"zoom must be < 1 \(received: zoom=1.5\)"),
    (dict(shear=-0.1), r"shear must be >= 0 \(received: shear=-0.1\)"),
    (dict(elastic_alpha=-2), r"elastic_alpha must be >= 0 \(received: elastic_alpha=-2\)"),
    (dict(elastic_sigma=0.0), r"elastic_sigma must be > 0 \(received: elastic_sigma=0.0\)"),
    (dict(p_affine=1.2), r"p_affine must be <= 1 \(received: p_affine=1.2\)"),
    (dict(p_elastic=-0.1), r"p_elastic must be >= 0 \(received: p_elastic=-0.1\)"),
])
def test_constructor_validates_ranges(kwargs, message):
    with pytest.raises(ValueError, match=message):
        augment.Augmenter(**kwargs)


def test_unknown_keyword_is_rejected():
    with pytest.raises(TypeError, match="rotate"):
        augment.Augmenter(rotate=10)
