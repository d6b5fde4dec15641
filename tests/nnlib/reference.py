"""Slow, loop-based reference implementations used only by the tests.

They are written for obviousness, not speed: every output pixel is computed by its own loop
iteration straight from the definition, in float64, so they share no code (and no bugs) with nnlib.
Shapes: images NCHW, conv weights (out, in, kh, kw), dense weights (in, out).
"""
import numpy as np


def conv2d(x, W, b, stride=1, padding=0):
    """Cross-correlation as in PyTorch's Conv2d: x (N, C, H, W), W (F, C, kh, kw), b (F,)."""
    x = np.asarray(x, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n, c, h, w = x.shape
    f, c2, kh, kw = W.shape
    assert c == c2
    xp = np.zeros((n, c, h + 2 * padding, w + 2 * padding))
    xp[:, :, padding:padding + h, padding:padding + w] = x
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (w + 2 * padding - kw) // stride + 1
    out = np.empty((n, f, ho, wo))
    for i in range(n):
        for o in range(f):
            for r in range(ho):
                for s in range(wo):
                    patch = xp[i, :, r * stride:r * stride + kh, s * stride:s * stride + kw]
                    out[i, o, r, s] = np.sum(patch * W[o]) + b[o]
    return out


def _pool(x, kernel, stride, reduce):
    x = np.asarray(x, dtype=np.float64)
    n, c, h, w = x.shape
    ho = (h - kernel) // stride + 1
    wo = (w - kernel) // stride + 1
    out = np.empty((n, c, ho, wo))
    for i in range(n):
        for ch in range(c):
            for r in range(ho):
                for s in range(wo):
                    window = x[i, ch, r * stride:r * stride + kernel, s * stride:s * stride + kernel]
                    out[i, ch, r, s] = reduce(window)
    return out


def maxpool2d(x, kernel, stride=None):
    """Max pooling without padding, floor mode (PyTorch's default): x (N, C, H, W)."""
    return _pool(x, kernel, kernel if stride is None else stride, np.max)


def avgpool2d(x, kernel, stride=None):
    """Average pooling without padding, floor mode: x (N, C, H, W)."""
    return _pool(x, kernel, kernel if stride is None else stride, np.mean)


def dense(x, W, b):
    """x (N, in), W (in, out), b (out,), one dot product per output element."""
    x = np.asarray(x, dtype=np.float64)
    n, fin = x.shape
    fout = W.shape[1]
    out = np.empty((n, fout))
    for i in range(n):
        for j in range(fout):
            out[i, j] = sum(float(x[i, k]) * float(W[k, j]) for k in range(fin)) + float(b[j])
    return out


def softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits, labels, label_smoothing=0.0):
    """Mean cross entropy against (1 - eps) * one_hot + eps / K targets (PyTorch convention)."""
    logits = np.asarray(logits, dtype=np.float64)
    n, k = logits.shape
    total = 0.0
    for i in range(n):
        z = logits[i] - logits[i].max()
        logp = z - np.log(np.sum(np.exp(z)))
        target = np.full(k, label_smoothing / k)
        target[labels[i]] += 1.0 - label_smoothing
        total -= float(np.dot(target, logp))
    return total / n
