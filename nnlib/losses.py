"""Losses: `forward(prediction, target) -> mean loss (float)`, `backward() -> dprediction`.

SoftmaxCrossEntropy: logits (N, K), integer labels (N,). MeanSquaredError: any prediction and a
target of its shape (or integer labels for one-hot rows). BinaryCrossEntropy: probabilities (or
logits) and 0-1 targets of the same shape."""
import numpy as np

from .checks import check
from .ops.softmax import log_softmax


class SoftmaxCrossEntropy:
    """Fused softmax + cross-entropy with optional label smoothing (PyTorch's definition:
    target = (1 - s) * one_hot + s / K). backward() returns dlogits of the mean loss."""

    def __init__(self, label_smoothing=0.0):
        check(isinstance(label_smoothing, (int, float)) and 0 <= label_smoothing < 1,
               "label_smoothing", label_smoothing, "in [0, 1)")
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits, labels):
        labels = np.asarray(labels)
        if logits.ndim != 2 or labels.shape != (logits.shape[0],):
            raise ValueError(f"expected logits (N, K) and labels (N,), got {logits.shape} "
                             f"and {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
        n, k = logits.shape
        if n and (labels.min() < 0 or labels.max() >= k):
            raise ValueError(f"labels must lie in [0, {k}), got range "
                             f"[{labels.min()}, {labels.max()}]")
        logp = log_softmax(logits)
        s = self.label_smoothing
        picked = logp[np.arange(n), labels]
        per_sample = -(1 - s) * picked - s * logp.mean(axis=1)
        self.cache = (logp, labels)
        return float(per_sample.mean(dtype=np.float64))

    def backward(self):
        logp, labels = self.cache
        n, k = logp.shape
        grad = np.exp(logp)
        s = self.label_smoothing
        if s:
            grad -= s / k
        grad[np.arange(n), labels] -= 1 - s
        grad /= n
        return grad


def _prediction_and_target(pred, target, name):
    """pred (N, ...) float and a target of the same shape; integer labels (N,) against (N, K)
    predictions become one-hot rows."""
    target = np.asarray(target)
    if pred.ndim == 2 and target.shape == (pred.shape[0],) and np.issubdtype(target.dtype,
                                                                              np.integer):
        if len(target) and (target.min() < 0 or target.max() >= pred.shape[1]):
            raise ValueError(f"{name}: labels must lie in [0, {pred.shape[1]})")
        onehot = np.zeros(pred.shape, dtype=pred.dtype)
        onehot[np.arange(len(target)), target] = 1
        return onehot
    if target.shape != pred.shape:
        raise ValueError(f"{name} expects a target shaped like the prediction {pred.shape} "
                         f"(or integer labels (N,)), got {target.shape}")
    return target.astype(pred.dtype, copy=False)


class MeanSquaredError:
    """mean((pred - target)^2) over every element (PyTorch's MSELoss); integer labels (N,) are
    compared as one-hot rows. backward() returns dpred."""

    def forward(self, pred, target):
        target = _prediction_and_target(pred, target, "MeanSquaredError")
        self.cache = (pred - target, pred.size)
        return float(np.mean(np.square(self.cache[0], dtype=np.float64)))

    def backward(self):
        diff, size = self.cache
        return diff * (2.0 / size)


class BinaryCrossEntropy:
    """-mean(t log p + (1 - t) log(1 - p)) over every element, targets t in [0, 1].

    from_logits=False: `pred` are probabilities (after a Sigmoid layer), clipped to
    [eps, 1 - eps]; from_logits=True: `pred` are scores z and p = sigmoid(z), computed stably
    (PyTorch's BCEWithLogitsLoss). backward() returns dpred.
    """

    def __init__(self, from_logits=False, eps=1e-7):
        check(isinstance(eps, float) and 0 < eps < 0.5, "eps", eps, "in (0, 0.5)")
        self.from_logits, self.eps = bool(from_logits), eps

    def forward(self, pred, target):
        target = np.asarray(target)
        if target.shape != pred.shape:
            raise ValueError(f"BinaryCrossEntropy expects a target shaped like the prediction "
                             f"{pred.shape}, got {target.shape}")
        t = target.astype(pred.dtype, copy=False)
        if self.from_logits:
            # max(z, 0) - z t + log(1 + exp(-|z|)): no overflow for any z
            per = np.maximum(pred, 0) - pred * t + np.log1p(np.exp(-np.abs(pred)))
            self.cache = (pred, t)
        else:
            p = np.clip(pred, self.eps, 1 - self.eps)
            per = -(t * np.log(p) + (1 - t) * np.log1p(-p))
            self.cache = (p, t)
        return float(per.mean(dtype=np.float64))

    def backward(self):
        x, t = self.cache
        if self.from_logits:
            e = np.exp(-np.abs(x))
            p = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
            return ((p - t) / x.size).astype(x.dtype, copy=False)
        return (x - t) / (x * (1 - x)) / x.size
