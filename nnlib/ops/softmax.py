"""Softmax and log-softmax over the last axis of (N, K) logits."""
import numpy as np


def log_softmax(logits):
    """Numerically stable log-softmax over the last axis, in the logits' dtype."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e
