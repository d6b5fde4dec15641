"""Weight initialisation: He (Kaiming) normal for layers before ReLU, Glorot (Xavier) uniform."""
import numpy as np

INITS = ("he", "glorot")


def initial_weights(shape, fan_in, fan_out, init, rng, dtype):
    """Draw a weight array of `shape`; values are drawn in float64 so every dtype gets the same ones."""
    if init == "he":
        w = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    elif init == "glorot":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=shape)
    else:
        raise ValueError(f"init must be one of {INITS} (received: init={init!r})")
    return w.astype(dtype)
