"""The training recipe follows the data: digits keep the digit recipe, other images get a general one.

A recipe is the preset (contest.train.presets) as the data makes it: the named preset is the
starting point, this module changes what does not suit the data, unless an option fixed it.

The default preset was tuned for handwritten digits: rotations up to 15 degrees, shears, and
thicker, thinner, blurred and crossed strokes. Those corrupt clothes or photographs into images
the data never holds, and they never mirror, though a mirrored shoe is still a shoe. So the
default preset is adapted to the data it is given:

- digit data (one channel, classes named 0..N-1, i.e. no data set the tool knows by its names)
  keeps the default preset exactly, value for value (its handwriting styles, a flag on 1s and a
  tail on 9s, only for the ten digits);
- other data gets the general-image recipe: horizontal flips when they keep the class (data-set
  knowledge for the sets the tool knows, see FLIP_KNOWLEDGE) and, for colour images, mild colour
  changes (per-channel gains within 10 %); no stroke corruptions, no rotations or shears, and no
  translations, zooms or contrast changes: at the 25-minute budget the networks underfit, and on
  a Fashion-MNIST validation split every transform beyond the mirror cost accuracy (flips alone
  92.82 %, with translations 92.04 %, with translations, zooms and contrast 91.94 %; one member,
  7 epochs, benchmarks/recipe_trial.py).

`choose_recipe(preset, spec, fixed)` returns the preset to train and a record of the choice (kept
in the run identity of non-digit runs and in `ensemble.json`, stated in the progress header). The
choice depends only on the data's spec and the command line, so it is the same for every seed.
"""
from dataclasses import replace

from contest.data.spec import CIFAR10_NAMES, FASHION_MNIST_NAMES, digit_names

ADAPTED_PRESETS = ("default",)   # the presets whose recipe follows the data

# Whether a left-right mirror keeps the class, for the data sets the tool knows by their class
# names. Data-set knowledge, not measured here: Fashion-MNIST's garments and shoes and CIFAR-10's
# objects and animals are photographed facing either way; digits never keep their class.
FLIP_KNOWLEDGE = {FASHION_MNIST_NAMES: ("fashion-mnist", True), CIFAR10_NAMES: ("cifar-10", True)}


def is_digit_data(spec):
    """True for grey images whose classes are the numbers 0..N-1 (no known non-digit names)."""
    return spec.channels == 1 and spec.class_names == digit_names(spec.classes)


def flip_decision(spec):
    """(flip keeps the class?, why): known data sets by their names; otherwise colour images
    (photographs) flip, grey images with unknown names do not (they may hold text or symbols)."""
    if spec.class_names in FLIP_KNOWLEDGE:
        name, keeps = FLIP_KNOWLEDGE[spec.class_names]
        return keeps, f"known data set {name}: a mirror keeps the class"
    if is_digit_data(spec):
        return False, "digits: a mirror changes the class"
    if spec.channels >= 3:
        return True, "colour images taken as photographs: a mirror keeps the class"
    return False, "unknown grey data: no mirrors (they may hold text or symbols)"


def translation_pixels(spec):
    """The largest translation of the general recipe: about 8 % of the shorter side, at least 1."""
    return float(max(1, round(0.08 * min(spec.height, spec.width))))


def general_augment(spec):
    """The general-image augmentation for `spec`: flips where they keep the class and, for colour
    images, mild colour gains; nothing else (unknown grey data without flips: none at all)."""
    augment = {"p_flip": 0.5} if flip_decision(spec)[0] else {}
    if spec.channels >= 3:
        augment["pixel"] = {"p_colour": 0.3, "colour_strength": 0.1}
    return augment


def broad_augment(spec):
    """The general recipe before validation trimmed it: flips where they keep the class,
    translations, mild zoom and contrast (and colour gains for colour images)."""
    augment = {"shift": translation_pixels(spec), "zoom": 0.08}
    if flip_decision(spec)[0]:
        augment["p_flip"] = 0.5
    augment["pixel"] = {"p_contrast": 0.1, "contrast_min": 0.6}
    if spec.channels >= 3:
        augment["pixel"].update(p_colour=0.3, colour_strength=0.1)
    return augment


def light_augment(spec):
    """Flips where they keep the class and translations only."""
    augment = {"shift": translation_pixels(spec)}
    if flip_decision(spec)[0]:
        augment["p_flip"] = 0.5
    return augment


def digit_augment(spec):
    from contest.train.presets import PRESETS

    return without_unfit_styles(PRESETS["default"].augment, spec)


def without_unfit_styles(augment, spec):
    """`augment` without its "style" part unless the data are the ten digits: the styles draw a
    flag on class 1 and a tail on class 9, which only means something for digits."""
    if "style" not in augment or (is_digit_data(spec) and spec.classes == 10):
        return dict(augment)
    return {key: value for key, value in augment.items() if key != "style"}


AUGMENT_FAMILIES = {"digit": digit_augment, "general": general_augment, "broad": broad_augment,
                    "light": light_augment, "none": lambda spec: {}}


# The general recipe's training length and architecture, chosen on a Fashion-MNIST validation
# split (benchmarks/recipe_trial.py; docs/presets.md) to fit 5 members in 25 min on 2 cores:
# arch c keeps 14x14 resolution through two conv blocks (93.56 % with flips, 7 epochs) where arch
# d pools to 7x7 (92.82 %; 93.12 % with an 8th epoch, in about the time of c's 7).
GENERAL_ARCH = "c"
GENERAL_EPOCHS = 7
# Peak rate of the one-cycle schedule, chosen on the same split (arch c, flips, 7 epochs, seeds 0
# and 1): 1.5e-3 93.16 / 93.10 %, the default preset's 3e-3 93.56 / 92.98 %, 5e-3 93.52 / 93.44 %,
# 8e-3 93.80 / 93.34 %.
GENERAL_LR = 8e-3


def choose_recipe(preset, spec, fixed=()):
    """(the preset to train, the record of the choice) for data of `spec`.

    `fixed`: the preset fields the command line set ("arch", "epochs", "augment"); they are kept.
    Presets other than ADAPTED_PRESETS are kept whole, and so is the default preset for digits.
    """
    flip, flip_reason = flip_decision(spec)
    record = {"data": "digits" if is_digit_data(spec) else "images", "flip": flip,
              "flip_reason": flip_reason, "fixed": sorted(fixed)}
    if preset.name not in ADAPTED_PRESETS:
        return preset, {**record, "recipe": preset.name, "reason": f"preset {preset.name} asked for"}
    if is_digit_data(spec):
        kept = without_unfit_styles(preset.augment, spec)
        return replace(preset, augment=kept), {
            **record, "recipe": "digit", "reason": f"grey images of classes "
            f"0..{spec.classes - 1}: the default preset's digit recipe"}
    chosen = {"arch": GENERAL_ARCH, "epochs": GENERAL_EPOCHS, "lr": GENERAL_LR,
              "augment": general_augment(spec)}
    changes = {key: value for key, value in chosen.items() if key not in fixed}
    return replace(preset, **changes), {**record, "recipe": "general",
                                        "reason": "not digit data: the general-image recipe"}


def describe_recipe(record, preset):
    """The progress header's line about the recipe."""
    augment = preset.augment
    parts = [f"flips {'on' if augment.get('p_flip') else 'off'} ({record['flip_reason']})"]
    if record.get("fixed"):
        parts.append("kept from the command line: " + ", ".join(record["fixed"]))
    epochs = f"{preset.epochs} epoch{'s' if preset.epochs != 1 else ''}"
    return (f"recipe: {record['recipe']} ({record['reason']}); arch {preset.arch}, {epochs}, "
            f"peak learning rate {preset.lr:g}; "
            + "; ".join(parts))
