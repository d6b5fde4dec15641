"""--more-epochs continues the exact training state; --init-from/--freeze fine-tunes with the
feature layers bit-identical to the ensemble they came from."""
import json

import numpy as np
import pytest

import nnlib as nn
from contest.data import datasets
from contest_testutil import assert_refused, invoke

BASE = ["--n", "1", "--preset", "fast", "--train-limit", "300", "--seed", "3", "--jobs", "1",
        "-q"]


def train(out, data_dir, epochs, *extra):
    result = invoke(["train-ensemble", *BASE, "--epochs", str(epochs), "--data-dir", data_dir,
                     "--out", out, *extra])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory, tiny_data):
    out = tmp_path_factory.mktemp("continued") / "models"
    train(out, tiny_data, 1)
    return out


def test_more_epochs_equals_an_uninterrupted_run(one_epoch, tiny_data, tmp_path):
    """fast: Adam at a constant learning rate, so 1 + 1 epochs must equal 2 epochs exactly."""
    straight = tmp_path / "straight"
    train(straight, tiny_data, 2)
    result = invoke(["train-ensemble", "--out", one_epoch, "--more-epochs", "1", "--jobs", "1",
                     "-q"])
    assert result.exit_code == 0, result.output
    continued, uninterrupted = one_epoch / "member-0.npz", straight / "member-0.npz"
    state, reference = nn.load_optimizer_state(continued), nn.load_optimizer_state(uninterrupted)
    assert state["steps"] == reference["steps"] == 2 * 3  # 270 images, batches of 128
    assert state["arrays"].keys() == reference["arrays"].keys()
    for key, moment in reference["arrays"].items():
        assert np.array_equal(state["arrays"][key], moment), key
    for name, value in nn.load(uninterrupted).state_dict().items():
        assert np.array_equal(nn.load(continued).state_dict()[name], value), name
    manifest = json.loads((one_epoch / "ensemble.json").read_text())
    assert manifest["members"][0]["epochs"] == manifest["preset"]["epochs"] == 2
    assert "fast recipe, 2 epochs)" in result.output
    result = invoke(["evaluate", "--models", one_epoch])  # the manifest matches the new files
    assert result.exit_code == 0, result.output


def test_more_epochs_twice(one_epoch, tiny_data, tmp_path):
    """The second continuation starts from the recorded 2 epochs (run.json keeps the first 1)."""
    for _ in range(2):
        result = invoke(["train-ensemble", "--out", one_epoch, "--more-epochs", "1", "--jobs",
                         "1", "-q"])
        assert result.exit_code == 0, result.output
    manifest = json.loads((one_epoch / "ensemble.json").read_text())
    assert manifest["members"][0]["epochs"] == manifest["preset"]["epochs"]


def test_more_epochs_needs_a_finished_ensemble(tmp_path):
    result = invoke(["train-ensemble", "--out", tmp_path / "none", "--more-epochs", "1"])
    assert_refused(result, tmp_path / "none")


def _three_class_npz(path, count=300):
    """MNIST-shaped data in three classes (digit mod 3): a new last layer is needed."""
    images, labels = datasets.load_split("test")
    np.savez(path, x=images[:count], y=labels[:count] % 3)
    return path


def test_finetune_keeps_frozen_features_bit_identical(one_epoch, tmp_path):
    out = tmp_path / "tuned"
    result = invoke(["train-ensemble", "--n", "1", "--epochs", "1", "--jobs", "1", "-q",
                     "--data", _three_class_npz(tmp_path / "d.npz"), "--init-from", one_epoch,
                     "--freeze", "features", "--out", out])
    assert result.exit_code == 0, result.output
    source, tuned = nn.load(one_epoch / "member-0.npz"), nn.load(out / "member-0.npz")
    manifest = json.loads((out / "ensemble.json").read_text())
    assert manifest["preset"]["name"] == "finetune" and manifest["arch"] == "a"
    assert manifest["input"]["classes"] == 3
    flatten = [type(layer).__name__ for layer in tuned.layers].index("Flatten")
    theirs, ours = source.state_dict(), tuned.state_dict()
    for name, value in ours.items():
        layer = int(name.split(".")[0])
        if layer < flatten:
            assert np.array_equal(value, theirs[name]), name   # frozen: unchanged bit for bit
        elif name == f"{len(tuned.layers) - 1}.W":
            assert value.shape == (128, 3)                       # a new last layer
        else:
            assert not np.array_equal(value, theirs[name]), name  # the head was trained


def test_init_from_an_ensemble_of_another_size_is_refused(one_epoch, tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "rgb.npz", x=rng.integers(0, 255, (30, 12, 12, 3), dtype=np.uint8),
             y=np.arange(30) % 3)
    out = tmp_path / "tuned"
    result = invoke(["train-ensemble", "--n", "1", "--data", tmp_path / "rgb.npz",
                     "--init-from", one_epoch, "--out", out])
    assert_refused(result, one_epoch / "ensemble.json", [out])
    assert "takes 28x28 images, the training data has 12x12x3 images" in result.output


def test_freeze_without_init_from_is_refused(tmp_path, tiny_data):
    result = invoke(["train-ensemble", *BASE, "--data-dir", tiny_data, "--freeze", "features",
                     "--out", tmp_path / "m"])
    assert_refused(result, "--freeze", [tmp_path / "m"])


def test_freeze_is_described_as_it_acts():
    """The help and docs/own-data.md say what test_finetune_keeps_frozen_features_bit_identical
    checks: every layer before the Flatten is frozen, the dense layers after it train."""
    from pathlib import Path

    words = "every layer before the Flatten"
    help_text = " ".join(invoke(["train-ensemble", "--help"]).output.split())
    page = " ".join((Path(__file__).parents[3] / "docs" / "own-data.md").read_text().split())
    assert words in help_text and words in page
    assert "finetune: arch of the --init-from ensemble" in help_text
