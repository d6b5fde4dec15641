"""Named CNN architectures for 28x28 grey digits: input (N, 1, 28, 28), output logits (N, 10).

`a` and `b` are the reference architectures of the speed benchmark; the others are tuned for the
contest presets. Every builder takes a `numpy.random.Generator` for the initial weights.
"""
import nnlib as nn


def arch_a(rng, dtype=None):
    kw = {"rng": rng} if dtype is None else {"rng": rng, "dtype": dtype}
    return nn.Sequential([
        nn.Conv2D(1, 16, 5, padding=2, **kw), nn.ReLU(), nn.MaxPool2D(2),
        nn.Conv2D(16, 32, 5, padding=2, **kw), nn.ReLU(), nn.MaxPool2D(2),
        nn.Flatten(), nn.Dense(32 * 7 * 7, 128, **kw), nn.ReLU(), nn.Dense(128, 10, init="glorot", **kw),
    ])


def arch_b(rng, dtype=None):
    kw = {"rng": rng} if dtype is None else {"rng": rng, "dtype": dtype}
    bn = {} if dtype is None else {"dtype": dtype}
    return nn.Sequential([
        nn.Conv2D(1, 32, 3, padding=1, **kw), nn.BatchNorm(32, **bn), nn.ReLU(),
        nn.Conv2D(32, 32, 3, padding=1, **kw), nn.BatchNorm(32, **bn), nn.ReLU(), nn.MaxPool2D(2),
        nn.Conv2D(32, 64, 3, padding=1, **kw), nn.BatchNorm(64, **bn), nn.ReLU(),
        nn.Conv2D(64, 64, 3, padding=1, **kw), nn.BatchNorm(64, **bn), nn.ReLU(), nn.MaxPool2D(2),
        nn.Flatten(), nn.Dense(64 * 7 * 7, 256, **kw), nn.BatchNorm(256, **bn), nn.ReLU(),
        nn.Dropout(0.3, rng=rng), nn.Dense(256, 10, init="glorot", **kw),
    ])


ARCHITECTURES = {"a": arch_a, "b": arch_b}


def build_model(name, rng, dtype=None):
    """Build architecture `name` (a key of ARCHITECTURES) with weights drawn from `rng`."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name](rng, dtype)
