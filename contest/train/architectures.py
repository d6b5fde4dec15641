"""Named CNN architectures, built for an input spec: input (N, C, H, W), output logits (N, classes).

`a` and `b` are the reference architectures of the speed benchmark; the others are tuned for the
contest presets. Every builder takes a `numpy.random.Generator` for the initial weights and an
InputSpec (default: MNIST's 1x28x28, 10 classes, for which the networks are those the presets were
tuned with). The first convolution takes the spec's channels, the head's Dense layer takes the
features left after the pooling (each 2x2 pool halves the size, rounding down), and images large
enough to leave more than 8x8 positions get further 2x2 pools before the head (`_extra_pools`),
so the head stays small whatever the image size.
"""
import nnlib as nn

from contest.data.spec import MNIST
from contest.train.network import build_mlp, mlp_widths

HEAD_POSITIONS = 64  # at most 8x8 positions reach the head


def _pooled(spec, pools):
    """(height, width) after `pools` 2x2 max-pools of the spec's images."""
    return spec.height >> pools, spec.width >> pools


def _extra_pools(spec, pools):
    """Further 2x2 pools so that at most HEAD_POSITIONS positions reach the head."""
    extra = 0
    height, width = _pooled(spec, pools)
    while height * width > HEAD_POSITIONS and min(height, width) >= 2:
        height, width, extra = height // 2, width // 2, extra + 1
    return extra


def _features_end(spec, pools, channels):
    """(the extra pool layers, the number of features the head gets) after `pools` pools."""
    extra = _extra_pools(spec, pools)
    height, width = _pooled(spec, pools + extra)
    return [nn.MaxPool2D(2) for _ in range(extra)], channels * height * width


def arch_a(rng, dtype=None, spec=MNIST):
    kw = {"rng": rng} if dtype is None else {"rng": rng, "dtype": dtype}
    pools, features = _features_end(spec, 2, 32)
    return nn.Sequential([
        nn.Conv2D(spec.channels, 16, 5, padding=2, **kw), nn.ReLU(), nn.MaxPool2D(2),
        nn.Conv2D(16, 32, 5, padding=2, **kw), nn.ReLU(), nn.MaxPool2D(2), *pools,
        nn.Flatten(), nn.Dense(features, 128, **kw), nn.ReLU(),
        nn.Dense(128, spec.classes, init="glorot", **kw),
    ], input_shape=spec.model_shape)


def arch_b(rng, dtype=None, spec=MNIST):
    kw = {"rng": rng} if dtype is None else {"rng": rng, "dtype": dtype}
    bn = {} if dtype is None else {"dtype": dtype}
    pools, features = _features_end(spec, 2, 64)
    return nn.Sequential([
        nn.Conv2D(spec.channels, 32, 3, padding=1, **kw), nn.BatchNorm(32, **bn), nn.ReLU(),
        nn.Conv2D(32, 32, 3, padding=1, **kw), nn.BatchNorm(32, **bn), nn.ReLU(), nn.MaxPool2D(2),
        nn.Conv2D(32, 64, 3, padding=1, **kw), nn.BatchNorm(64, **bn), nn.ReLU(),
        nn.Conv2D(64, 64, 3, padding=1, **kw), nn.BatchNorm(64, **bn), nn.ReLU(), nn.MaxPool2D(2),
        *pools, nn.Flatten(), nn.Dense(features, 256, **kw), nn.BatchNorm(256, **bn), nn.ReLU(),
        nn.Dropout(0.3, rng=rng), nn.Dense(256, spec.classes, init="glorot", **kw),
    ], input_shape=spec.model_shape)


def _conv_pool_bn(cin, cout, k, pool, kw, bn):
    """Conv -> [MaxPool] -> BN -> ReLU: pooling before BN/ReLU gives the same max of ReLU'd
    values for half the work, since max-pool commutes with the increasing ReLU."""
    layers = [nn.Conv2D(cin, cout, k, padding=k // 2, **kw)]
    if pool:
        layers.append(nn.MaxPool2D(2))
    return layers + [nn.BatchNorm(cout, **bn), nn.ReLU()]


def _head(spec, pools, channels, hidden, dropout, rng, kw, bn):
    """[further pools,] Flatten, Dense, BN, ReLU, Dropout, Dense to the spec's classes."""
    extra, features = _features_end(spec, pools, channels)
    return extra + [nn.Flatten(), nn.Dense(features, hidden, **kw), nn.BatchNorm(hidden, **bn),
                    nn.ReLU(), nn.Dropout(dropout, rng=rng),
                    nn.Dense(hidden, spec.classes, init="glorot", **kw)]


def _kwargs(rng, dtype):
    return ({"rng": rng} if dtype is None else {"rng": rng, "dtype": dtype},
            {} if dtype is None else {"dtype": dtype})


def _pooled_net(spec, blocks, pools, hidden, rng, dtype):
    """Conv blocks (out_channels, kernel, pool) in turn, then the dropout head; `pools` is the
    number of 2x2 pools among the blocks (the head's input size follows from it)."""
    kw, bn = _kwargs(rng, dtype)
    layers, channels = [], spec.channels
    for out, kernel, pool in blocks:
        layers += _conv_pool_bn(channels, out, kernel, pool, kw, bn)
        channels = out
    return nn.Sequential(layers + _head(spec, pools, channels, hidden, 0.3, rng, kw, bn),
                         input_shape=spec.model_shape)


def arch_c(rng, dtype=None, spec=MNIST):
    """Three conv blocks 32-48-64 (5x5, 3x3, 3x3), BN, dropout head; ~9 M multiply-adds (28x28)."""
    return _pooled_net(spec, [(32, 5, True), (48, 3, False), (64, 3, True)], 2, 128, rng, dtype)


def arch_d(rng, dtype=None, spec=MNIST):
    """Three pooled conv blocks 32-64-128, BN, dropout head; ~8 M multiply-adds (28x28)."""
    return _pooled_net(spec, [(32, 5, True), (64, 3, True), (128, 3, True)], 3, 128, rng, dtype)


def arch_k(rng, dtype=None, spec=MNIST):
    """arch d slimmed to 16-48-96 channels, the default preset's network; ~3.8 M multiply-adds
    (28x28), 1.7x d's inference speed and 1.8x its training speed, at d's validation accuracy."""
    return _pooled_net(spec, [(16, 5, True), (48, 3, True), (96, 3, True)], 3, 128, rng, dtype)


def arch_e(rng, dtype=None, spec=MNIST):
    """Two pooled conv blocks 32-64, BN, dropout head; ~4.6 M multiply-adds (28x28)."""
    return _pooled_net(spec, [(32, 5, True), (64, 3, True)], 2, 128, rng, dtype)


def arch_w(rng, dtype=None, spec=MNIST):
    """arch d 1.5 times as wide, 48-96-192; ~18 M multiply-adds (28x28), about twice d's time."""
    return _pooled_net(spec, [(48, 5, True), (96, 3, True), (192, 3, True)], 3, 192, rng, dtype)


ARCHITECTURES = {"a": arch_a, "b": arch_b, "c": arch_c, "d": arch_d, "e": arch_e, "k": arch_k,
                 "w": arch_w}


def member_arch(spec, index):
    """The architecture of member `index` of an ensemble whose arch is `spec`: one name ("d"),
    or names joined by "+" ("d+c") taken in turn, member K getting the (K mod count)-th: members
    of different architectures make fewer of the same mistakes than members of one."""
    names = spec.split("+")
    for name in names:
        if name not in ARCHITECTURES and mlp_widths(name) is None:
            raise ValueError(f"unknown architecture {name!r} in {spec!r}; choose from "
                             f"{sorted(ARCHITECTURES)} or mlp:WIDTHxWIDTH..., several joined "
                             f"by '+'")
    return names[index % len(names)]


def build_model(name, rng, dtype=None, spec=MNIST):
    """Build architecture `name` (a key of ARCHITECTURES, or mlp:WIDTHx...) for `spec` with
    weights from `rng`."""
    widths = mlp_widths(name)
    if widths is not None:
        return build_mlp(widths, rng, spec)
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name](rng, dtype, spec)
