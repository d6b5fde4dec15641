"""Allowed ranges of every training-augmentation parameter (`--augment` and presets).

augment.Augmenter only refuses values that make no sense for any image (negative, NaN); these
ranges refuse values that destroy the images, such as `{"shift": 1e9}` (every image moved out
of the frame: the members then train on blank images). Each bound is generous: about twice the
largest value any preset or the literature on MNIST augmentation uses. The shift's bound is a
share of the images' shorter side, so it is known once the data (its input spec) is.
"""
import numbers

SHIFT_SHARE = 0.25   # of the shorter side, per axis: 7 px of 28 leaves most of a centred digit in
GEOMETRIC = {                       # name: (low, high), both inclusive
    "rotation": (0.0, 180.0),       # degrees
    "shift": (0.0, float("inf")),   # pixels per axis; bounded by shift_limit(spec) in check_augment
    "zoom": (0.0, 0.5),             # relative scale change
    "shear": (0.0, 1.0),            # horizontal shear factor
    "elastic_alpha": (0.0, 100.0),  # displacement scale (Simard et al. 2003: 34)
    "elastic_sigma": (0.5, 16.0),   # smoothing in pixels (Simard et al.: 4)
    "p_affine": (0.0, 1.0),
    "p_elastic": (0.0, 1.0),
    "p_flip": (0.0, 1.0),           # horizontal mirrors: only for data whose classes survive them
}
PIXEL = {
    "p_noise": (0.0, 1.0), "noise_sigma": (0.0, 1.0),
    "p_salt_pepper": (0.0, 1.0), "salt_pepper_fraction": (0.0, 0.5),
    "p_contrast": (0.0, 1.0), "contrast_min": (0.05, 1.0),
    "p_blur": (0.0, 1.0), "blur_sigma": (0.0, 3.0),
    "p_thick": (0.0, 1.0), "p_thin": (0.0, 1.0), "p_line": (0.0, 1.0),
    "p_erase": (0.0, 1.0),          # a patch of 4-10 px a side set to background (cutout)
    "p_colour": (0.0, 1.0), "colour_strength": (0.0, 0.5),
}
STYLE = {"p_flag": (0.0, 1.0), "p_tail": (0.0, 1.0)}   # shares of the 1s and of the 9s


SECTIONS = {"pixel": PIXEL, "style": STYLE}     # nested objects: {"pixel": {...}}
# the one table the checks and their error lists read: a nested section counts as a key
TOP_LEVEL = {**GEOMETRIC, **{name: None for name in SECTIONS}}


def _check(where, values, limits):
    if not isinstance(values, dict):
        raise ValueError(f"{where or 'augment'}: expected a JSON object, got {values!r}")
    prefix = f"{where}." if where else ""
    for name, value in values.items():
        if name not in limits:
            raise ValueError(f"{where or 'augment'}: unknown parameter {name!r}; allowed: "
                             f"{', '.join(sorted(limits))}")
        if name in SECTIONS and not where:
            if value is not None:          # null: the section's defaults, as Augmenter takes it
                _check(name, value, SECTIONS[name])
            continue
        low, high = limits[name]
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not low <= value <= high:
            raise ValueError(f"{prefix}{name} must be a number in [{low:g}, {high:g}] "
                             f"(received: {value!r})")


def shift_limit(spec):
    """The largest shift (pixels per axis) allowed for images of the InputSpec `spec`."""
    return SHIFT_SHARE * min(spec.height, spec.width)


def check_augment(kwargs, spec=None):
    """Raise ValueError naming the parameter and its allowed range for any value outside it;
    `spec`: the input spec of the images, which bounds the shift (None: not known yet)."""
    limits = TOP_LEVEL if spec is None else {**TOP_LEVEL, "shift": (0.0, shift_limit(spec))}
    _check("", kwargs, limits)
