"""The reference architectures A and B, arch d and the default preset's arch k in PyTorch, for same-process speed comparisons.
PyTorch is never a dependency of the project: `pip install torch==2.13.0` (CPU build) to enable."""


def torch_model(name):
    import torch.nn as tnn
    if name == "a":
        return tnn.Sequential(
            tnn.Conv2d(1, 16, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(16, 32, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Flatten(), tnn.Linear(1568, 128), tnn.ReLU(), tnn.Linear(128, 10))
    if name == "b":
        def block(cin, cout):
            return [tnn.Conv2d(cin, cout, 3, padding=1), tnn.BatchNorm2d(cout), tnn.ReLU()]
        return tnn.Sequential(
            *block(1, 32), *block(32, 32), tnn.MaxPool2d(2), *block(32, 64), *block(64, 64),
            tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(3136, 256), tnn.BatchNorm1d(256),
            tnn.ReLU(), tnn.Dropout(0.3), tnn.Linear(256, 10))
    if name == "d":
        return _pooled(tnn, (32, 64, 128))
    if name == "k":
        return _pooled(tnn, (16, 48, 96))
    raise ValueError(f"no torch reference for architecture {name!r}")


def _pooled(tnn, channels):
    """contest's arch d (channels 32, 64, 128) or k (16, 48, 96) for 1x28x28 MNIST: three blocks
    Conv -> MaxPool -> BN -> ReLU (5x5 then 3x3), 28 -> 14 -> 7 -> 3, and the head
    Dense(channels * 9, 128) -> BN -> ReLU -> Dropout(0.3) -> Dense(128, 10)."""
    def block(cin, cout, k):
        return [tnn.Conv2d(cin, cout, k, padding=k // 2), tnn.MaxPool2d(2),
                tnn.BatchNorm2d(cout), tnn.ReLU()]
    first, second, third = channels
    return tnn.Sequential(
        *block(1, first, 5), *block(first, second, 3), *block(second, third, 3), tnn.Flatten(),
        tnn.Linear(third * 9, 128), tnn.BatchNorm1d(128), tnn.ReLU(), tnn.Dropout(0.3),
        tnn.Linear(128, 10))
