"""The Python API `contest.Ensemble`: shapes, the CLI's checks, and agreement with the CLI."""
import subprocess
import sys

import numpy as np
import pytest

from contest import Ensemble
from contest.errors import ContestInputError


@pytest.fixture(scope="module")
def ensemble(models):
    return Ensemble.load(models)


@pytest.fixture(scope="module")
def digits(tiny_test):
    return tiny_test[0][:20]


def test_same_images_as_uint8_int64_and_float_give_identical_predictions(ensemble, digits):
    expected = ensemble.predict_proba(digits)
    for array in (digits.astype(np.int64), digits.astype(np.float32) / np.float32(255),
                  digits.reshape(len(digits), -1), digits[:, None]):
        np.testing.assert_array_equal(ensemble.predict(array), expected.argmax(axis=1))
        np.testing.assert_allclose(ensemble.predict_proba(array), expected, atol=1e-6)


def test_float_0_255_is_refused_not_guessed(ensemble, digits):
    with pytest.raises(ContestInputError, match=r"must lie in \[0, 1\]; found \[0, 255\]"):
        ensemble.predict(digits.astype(np.float64))


def test_shapes_follow_scikit_learn(ensemble, digits):
    proba = ensemble.predict_proba(digits)
    members = ensemble.member_proba(digits)
    assert proba.shape == (20, ensemble.classes) and proba.dtype == np.float32
    assert members.shape == (len(ensemble), 20, ensemble.classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(members.mean(axis=0), proba, atol=1e-6)
    assert ensemble.predict(digits[0]).shape == (1,)


def test_predictions_match_the_cli(ensemble, models, exported, tmp_path):
    from contest_testutil import invoke

    images, _ = exported
    out = tmp_path / "s.txt"
    result = invoke(["predict", images, "--models", models, "-o", out])
    assert result.exit_code == 0, result.output
    cli_labels = np.array(out.read_text().split(), dtype=np.int64)
    np.testing.assert_array_equal(ensemble.predict(images), cli_labels)


def test_import_contest_stays_light():
    code = ("import sys, contest; heavy = [m for m in ('numpy', 'nnlib', 'fastapi') "
            "if m in sys.modules]; print(heavy); from contest import Ensemble; print(Ensemble)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[]", "<class 'contest.api.Ensemble'>"]


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "10"])
def test_a_bad_batch_size_is_refused_as_a_value_error(ensemble, digits, batch_size):
    with pytest.raises(ValueError, match=r"batch_size: must be a positive integer"):
        ensemble.predict(digits, batch_size=batch_size)


def test_ragged_lists_are_refused_with_a_clear_message(ensemble):
    with pytest.raises(ValueError, match="ragged lists: every image must have the same shape"):
        ensemble.predict([[0] * 784, [0] * 10])


def test_input_errors_are_caught_by_scikit_learn_style_code(ensemble, digits):
    try:
        ensemble.predict(digits.astype(np.float64))
    except ValueError as exc:
        assert isinstance(exc, ContestInputError)
    else:
        pytest.fail("float 0..255 images were accepted")


def test_loading_leaves_malloc_alone_and_the_commands_choose_it(models, monkeypatch):
    """retain_freed_memory changes malloc for the whole process: a notebook user who only loads
    an ensemble keeps the allocator as it was; `contest predict-one` makes that choice itself."""
    import nnlib
    from contest_testutil import invoke

    calls = []
    monkeypatch.setattr(nnlib, "retain_freed_memory", lambda: calls.append(1))
    Ensemble.load(models)
    assert calls == []
    result = invoke(["predict-one", "--models", models, "--index", "0"])
    assert result.exit_code == 0, result.output
    assert calls == [1]
