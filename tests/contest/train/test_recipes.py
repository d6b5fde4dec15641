"""The recipe follows the data: digits keep the default preset value for value; other grey data
and colour data get the general-image recipe (no stroke corruptions); the choice is the same for
every seed and recorded in the run identity and the manifest."""
import json

import numpy as np

from contest.data.spec import CIFAR10_NAMES, FASHION_MNIST_NAMES, MNIST, InputSpec
from contest.train.member import build_augmenter
from contest.train.presets import PRESETS
from contest.train.recipes import (GENERAL_ARCH, GENERAL_EPOCHS, GENERAL_LR, choose_recipe,
                                   describe_recipe)
from contest_testutil import invoke

STROKES = ("p_thick", "p_thin", "p_line", "p_blur")
FASHION = InputSpec(1, 28, 28, 10, FASHION_MNIST_NAMES)
CIFAR = InputSpec(3, 32, 32, 10, CIFAR10_NAMES)


def test_digit_data_keeps_the_default_preset_exactly():
    preset, record = choose_recipe(PRESETS["default"], MNIST)
    assert preset == PRESETS["default"] and preset.to_dict() == PRESETS["default"].to_dict()
    assert record["recipe"] == "digit" and record["data"] == "digits" and not record["flip"]
    assert preset.augment["style"] == {"p_flag": 0.3, "p_tail": 0.3}
    small = InputSpec(1, 16, 16, 4)                        # any grey data of numbered classes
    preset, record = choose_recipe(PRESETS["default"], small)
    assert "classes 0..3" in record["reason"]
    # everything of the default preset but the digit styles, whose classes 1 and 9 mean digits
    expected = {k: v for k, v in PRESETS["default"].augment.items() if k != "style"}
    assert preset.augment == expected and preset.arch == "k" and preset.epochs == 7


def test_the_digit_styles_are_never_drawn_on_other_data():
    for spec in (FASHION, CIFAR):
        assert "style" not in choose_recipe(PRESETS["default"], spec)[0].augment


def _general(spec):
    preset, record = choose_recipe(PRESETS["default"], spec)
    pixel = preset.augment.get("pixel", {})
    assert record["recipe"] == "general" and record["data"] == "images"
    assert not any(pixel.get(key) for key in STROKES)
    for key in ("rotation", "shear", "shift", "zoom"):     # validation: beyond mirrors, none
        assert not preset.augment.get(key), key
    build_augmenter(preset.augment)                        # within the allowed ranges
    return preset, record


def test_fashion_mnist_gets_the_general_recipe_with_flips():
    preset, record = _general(FASHION)
    assert (preset.arch, preset.epochs, preset.lr) == (GENERAL_ARCH, GENERAL_EPOCHS, GENERAL_LR)
    assert f"peak learning rate {GENERAL_LR:g}" in describe_recipe(record, preset)
    assert preset.augment["p_flip"] == 0.5 and record["flip"]
    assert "fashion-mnist" in record["flip_reason"]


def test_colour_data_gets_the_general_recipe_with_flips():
    for spec in (CIFAR, InputSpec(3, 12, 12, 3, ("blue", "green", "red"))):
        preset, record = _general(spec)
        assert preset.augment["p_flip"] == 0.5


def test_unknown_grey_names_get_the_general_recipe_without_flips():
    preset, record = _general(InputSpec(1, 16, 16, 3, ("alpha", "beta", "gamma")))
    assert "p_flip" not in preset.augment and not record["flip"]
    assert preset.augment == {} and build_augmenter(preset.augment) is None   # nothing to do


def test_command_line_values_are_kept_and_other_presets_are_not_adapted():
    preset, record = choose_recipe(PRESETS["default"], FASHION, fixed=("epochs",))
    assert record["fixed"] == ["epochs"] and preset.epochs == PRESETS["default"].epochs
    assert "fixed" not in describe_recipe(choose_recipe(PRESETS["default"], FASHION)[1], preset)
    assert "kept from the command line: epochs" in describe_recipe(record, preset)
    for name in ("fast", "large"):
        assert choose_recipe(PRESETS[name], FASHION)[0] == PRESETS[name]


def _named_grey_npz(path, n=48):
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 3
    images = rng.integers(0, 40, (n, 16, 16), dtype=np.uint8)
    for c in range(3):
        images[labels == c, 4 * c:4 * c + 6, 4:12] = 220
    np.savez(path, x=images, y=labels)
    return path


def test_the_choice_is_recorded_in_the_manifest_and_the_same_for_every_seed(tmp_path):
    data = _named_grey_npz(tmp_path / "things.npz")
    records = []
    for seed in (1, 2, 1):
        out = tmp_path / f"m{seed}-{len(records)}"
        result = invoke(["train-ensemble", "--data", str(data), "--class-names", "cup,hat,key",
                         "--n", "1", "--epochs", "1", "--jobs", "1", "--seed", str(seed),
                         "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "recipe: general" in result.output
        manifest = json.loads((out / "ensemble.json").read_text())
        run = json.loads((out / "run.json").read_text())
        assert manifest["recipe"] == run["recipe"]
        assert manifest["preset"]["augment"] == run["preset"]["augment"]
        records.append((manifest["recipe"], manifest["preset"]))
    assert records[0] == records[1] == records[2]
    recipe, preset = records[0]
    assert recipe["recipe"] == "general" and recipe["fixed"] == ["epochs"]
    assert preset["epochs"] == 1 and preset["augment"] == {}    # unknown grey names: no flips


def test_colour_data_gets_mild_colour_changes_and_grey_data_none():
    assert choose_recipe(PRESETS["default"], CIFAR)[0].augment["pixel"]["p_colour"] > 0
    assert "pixel" not in choose_recipe(PRESETS["default"], FASHION)[0].augment


def test_more_epochs_goes_on_with_the_recorded_recipe(tmp_path):
    data = _named_grey_npz(tmp_path / "things.npz")
    out = tmp_path / "m"
    first = invoke(["train-ensemble", "--data", str(data), "--class-names", "cup,hat,key",
                    "--n", "1", "--epochs", "1", "--jobs", "1", "--out", str(out), "-q"])
    assert first.exit_code == 0, first.output
    recipe = json.loads((out / "ensemble.json").read_text())["recipe"]
    more = invoke(["train-ensemble", "--more-epochs", "1", "--out", str(out), "-q"])
    assert more.exit_code == 0, more.output
    manifest = json.loads((out / "ensemble.json").read_text())
    assert manifest["recipe"] == recipe and manifest["members"][0]["epochs"] == 2
