"""Losses. SoftmaxCrossEntropy: logits (N, K), integer labels (N,) -> mean loss (float)."""
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
