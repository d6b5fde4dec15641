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
    ], input_shape=(1, 28, 28))


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
    ], input_shape=(1, 28, 28))


def _conv_pool_bn(cin, cout, k, pool, kw, bn):
    """Conv -> [MaxPool] -> BN -> ReLU: pooling before BN/ReLU gives the same max of ReLU'd
    values for half the work, since max-pool commutes with the increasing ReLU."""
    layers = [nn.Conv2D(cin, cout, k, padding=k // 2, **kw)]
    if pool:
        layers.append(nn.MaxPool2D(2))
    return layers + [nn.BatchNorm(cout, **bn), nn.ReLU()]


def _head(features, hidden, dropout, rng, kw, bn):
    return [nn.Flatten(), nn.Dense(features, hidden, **kw), nn.BatchNorm(hidden, **bn), nn.ReLU(),
            nn.Dropout(dropout, rng=rng), nn.Dense(hidden, 10, init="glorot", **kw)]


def _kwargs(rng, dtype):
    return ({"rng": rng} if dtype is None else {"rng": rng, "dtype": dtype},
            {} if dtype is None else {"dtype": dtype})


def arch_c(rng, dtype=None):
    """Three conv blocks 32-48-64 (5x5, 3x3, 3x3), BN, dropout head; ~9 M multiply-adds."""
    kw, bn = _kwargs(rng, dtype)
    return nn.Sequential(_conv_pool_bn(1, 32, 5, True, kw, bn) + _conv_pool_bn(32, 48, 3, False, kw, bn)
                         + _conv_pool_bn(48, 64, 3, True, kw, bn)
                         + _head(64 * 7 * 7, 128, 0.3, rng, kw, bn), input_shape=(1, 28, 28))


def arch_d(rng, dtype=None):
    """Three pooled conv blocks 32-64-128, BN, dropout head; ~8 M multiply-adds."""
    kw, bn = _kwargs(rng, dtype)
    return nn.Sequential(_conv_pool_bn(1, 32, 5, True, kw, bn) + _conv_pool_bn(32, 64, 3, True, kw, bn)
                         + _conv_pool_bn(64, 128, 3, True, kw, bn)
                         + _head(128 * 3 * 3, 128, 0.3, rng, kw, bn), input_shape=(1, 28, 28))


def arch_e(rng, dtype=None):
    """Two pooled conv blocks 32-64, BN, dropout head; ~4.6 M multiply-adds."""
    kw, bn = _kwargs(rng, dtype)
    return nn.Sequential(_conv_pool_bn(1, 32, 5, True, kw, bn) + _conv_pool_bn(32, 64, 3, True, kw, bn)
                         + _head(64 * 7 * 7, 128, 0.3, rng, kw, bn), input_shape=(1, 28, 28))


ARCHITECTURES = {"a": arch_a, "b": arch_b, "c": arch_c, "d": arch_d, "e": arch_e}


def member_arch(spec, index):
    """The architecture of member `index` of an ensemble whose arch is `spec`: one name ("d"),
    or names joined by "+" ("d+c") taken in turn, member K getting the (K mod count)-th: members
    of different architectures make fewer of the same mistakes than members of one."""
    names = spec.split("+")
    for name in names:
        if name not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {name!r} in {spec!r}; choose from "
                             f"{sorted(ARCHITECTURES)}, several joined by '+'")
    return names[index % len(names)]


def build_model(name, rng, dtype=None):
    """Build architecture `name` (a key of ARCHITECTURES) with weights drawn from `rng`."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name](rng, dtype)
