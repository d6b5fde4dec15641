"""Weight initialisation by name, for a weight of fans (fan_in, fan_out) (a convolution's fans
are channels times kernel area):

- "he" / "he_normal": N(0, 2 / fan_in) (Kaiming, for layers before ReLU); "he_uniform":
  U(-a, a) with a = sqrt(6 / fan_in), the same variance;
- "glorot" / "glorot_uniform" / "xavier" / "xavier_uniform": U(-a, a), a = sqrt(6 / (fan_in +
  fan_out)), variance 2 / (fan_in + fan_out); "glorot_normal" / "xavier_normal": N(0, that);
- "gaussian": N(0, std^2) with the given `std` (the course's 0.01 networks).
"""
import contextvars
from contextlib import contextmanager

import numpy as np

INITS = ("he", "he_normal", "he_uniform", "glorot", "glorot_uniform", "glorot_normal", "xavier",
         "xavier_uniform", "xavier_normal", "gaussian")
DEFAULT_STD = 0.01   # the "gaussian" init's std when none is given
_DRAW = contextvars.ContextVar("nnlib_draw_initial_weights", default=True)


@contextmanager
def weights_loaded_next():
    """Within this block layers start with zero weights instead of random draws: for models
    whose every weight is loaded right after they are built (a third of a model load's time was
    drawing weights that were then overwritten)."""
    token = _DRAW.set(False)
    try:
        yield
    finally:
        _DRAW.reset(token)


def init_variance(init, fan_in, fan_out, std=DEFAULT_STD):
    """The variance the weights of initialiser `init` are drawn with."""
    family = canonical_init(init)
    if family in ("he_normal", "he_uniform"):
        return 2.0 / fan_in
    if family in ("glorot_normal", "glorot_uniform"):
        return 2.0 / (fan_in + fan_out)
    return float(std) ** 2


def canonical_init(init):
    """The one name of an initialiser ("he" -> "he_normal", "xavier" -> "glorot_uniform", ...)."""
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS} (received: init={init!r})")
    aliases = {"he": "he_normal", "glorot": "glorot_uniform", "xavier": "glorot_uniform",
               "xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal"}
    return aliases.get(init, init)


def initial_weights(shape, fan_in, fan_out, init, rng, dtype, std=DEFAULT_STD):
    """Draw a weight array of `shape`; values are drawn in float64 so every dtype gets the same ones.
    Zeros, and nothing drawn from `rng`, inside `weights_loaded_next()`."""
    family = canonical_init(init)
    if not _DRAW.get():
        return np.zeros(shape, dtype=dtype)
    # the scales written as the textbook formulas, so "he" and "glorot" keep their exact values
    if family == "he_normal":
        w = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    elif family == "glorot_normal":
        w = rng.standard_normal(shape) * np.sqrt(2.0 / (fan_in + fan_out))
    elif family == "gaussian":
        w = rng.standard_normal(shape) * float(std)
    else:
        limit = np.sqrt(6.0 / (fan_in if family == "he_uniform" else fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=shape)
    return w.astype(dtype)
