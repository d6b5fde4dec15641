"""Weight initialisation: He (Kaiming) normal for layers before ReLU, Glorot (Xavier) uniform."""
import contextvars
from contextlib import contextmanager

import numpy as np

INITS = ("he", "glorot")
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


def initial_weights(shape, fan_in, fan_out, init, rng, dtype):
    """Draw a weight array of `shape`; values are drawn in float64 so every dtype gets the same ones.
    Zeros, and nothing drawn from `rng`, inside `weights_loaded_next()`."""
    if not _DRAW.get() and init in INITS:
        return np.zeros(shape, dtype=dtype)
    if init == "he":
        w = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    elif init == "glorot":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=shape)
    else:
        raise ValueError(f"init must be one of {INITS} (received: init={init!r})")
    return w.astype(dtype)
