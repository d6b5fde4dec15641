"""Test-time augmentation (contest.evaluate.tta, predict --tta, evaluate --tta) on the session
ensemble: the average over shifted inputs computed by hand, its effect, and what it leaves untouched."""
import re

import numpy as np
import pytest

from contest.modeldir.ensemble import accuracy, load_ensemble
from contest.evaluate.tta import DEFAULT_SHIFTS, check_shifts, tta_probabilities
from contest_testutil import invoke


def ok(args):
    result = invoke(args)
    assert result.exit_code == 0, result.output
    return result.output


def slide(images, dy, dx):
    """Reference translation (content down dy, right dx) with zero fill, by padding."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    return padded[:, 1 - dy:29 - dy, 1 - dx:29 - dx]


@pytest.fixture(scope="module")
def ensemble(models):
    return load_ensemble(models)


@pytest.fixture(scope="module")
def by_hand(ensemble, tiny_test):
    """(mean, members) averaged by hand over the default shifts of the tiny test images."""
    outputs = [ensemble.predict_proba(slide(tiny_test[0], dy, dx)) for dy, dx in DEFAULT_SHIFTS]
    members = np.mean([m.astype(np.float64) for _, m in outputs], axis=0)
    return members.mean(axis=0), members


def test_tta_equals_the_average_over_shifted_inputs(ensemble, tiny_test, by_hand):
    mean, members = tta_probabilities(ensemble, tiny_test[0], DEFAULT_SHIFTS, batch_size=64)
    assert mean.shape == (200, 10) and members.shape == (2, 200, 10)
    assert mean.dtype == members.dtype == np.float32
    np.testing.assert_allclose(members, by_hand[1], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(mean, by_hand[0], rtol=1e-5, atol=1e-7)


def test_tta_changes_probabilities_and_one_zero_shift_does_not(ensemble, tiny_test):
    plain = ensemble.predict_proba(tiny_test[0])
    tta = tta_probabilities(ensemble, tiny_test[0])
    assert np.abs(tta[0] - plain[0]).max() > 1e-3
    same = tta_probabilities(ensemble, tiny_test[0], [(0, 0)])
    np.testing.assert_allclose(same[0], plain[0], rtol=1e-6)


def test_tta_of_float_images_equals_tta_of_uint8(ensemble, tiny_test):
    images = tiny_test[0][:50]
    as_float = images.astype(np.float32) / np.float32(255)
    np.testing.assert_allclose(tta_probabilities(ensemble, as_float)[0],
                               tta_probabilities(ensemble, images)[0], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shifts", [[], [(0.5, 0)], [(1,)], [(30, 0)], [(True, 0)], [None]])
def test_bad_shifts_raise_value_error(shifts):
    with pytest.raises(ValueError, match="shifts"):
        check_shifts(shifts, (28, 28))


def test_the_shift_bound_follows_the_image_size():
    assert check_shifts([(20, -27)], (28, 28)) == ((20, -27),)
    with pytest.raises(ValueError, match="16x16 image out of its frame"):
        check_shifts([(0, 20)], (16, 16))
    assert check_shifts([(0, 20)], (16, 32)) == ((0, 20),)


def test_evaluate_tta_reports_the_hand_computed_accuracy(models, tiny_test, by_hand):
    text = ok(["evaluate", "--models", models, "--tta"])
    fraction, correct = accuracy(by_hand[0], tiny_test[1])
    assert f"ensemble accuracy: {100 * fraction:.2f} % ({correct}/200)" in text
    assert "test-time augmentation: mean over 5 shifts" in text


def test_predict_tta_writes_a_submission_and_leaves_the_manifest(models, exported, tmp_path,
                                                                 by_hand):
    manifest = (models / "ensemble.json").read_bytes()
    text = ok(["predict", exported[0], "--models", models, "--tta", "-o", tmp_path / "s.csv",
               "--proba", tmp_path / "p.npy"])
    proba = np.load(tmp_path / "p.npy")
    np.testing.assert_allclose(proba, by_hand[0], rtol=1e-5, atol=1e-7)
    rows = (tmp_path / "s.csv").read_text().splitlines()
    assert rows[0] == "ImageId,Label" and len(rows) == 201
    assert [int(r.split(",")[1]) for r in rows[1:]] == proba.argmax(axis=1).tolist()
    assert re.search(r"predicted 200 images with 2 members", text)
    assert "test-time augmentation: mean over 5 shifts" in text
    assert (models / "ensemble.json").read_bytes() == manifest
