"""Pooling kernels on NHWC memory: max and average pooling and their gradients.

2x2/2 max-pooling, the common case, has kernels of its own (`maxpool2x2_into`,
`maxpool2x2_train_into`, `unpool2x2_into`): four strided views instead of a window search, and
three boolean "which half won" masks as the training cache. The fused conv-pool-ReLU block
(`nnlib.ops.fused`) uses them too.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..runtime.threads import run_sharded
from .layout import out_size


def _pair(v):
    return (v, v) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def is_2x2(k, s):
    """Whether a pooling window k with stride s (ints or pairs) is the 2x2/2 case with its own
    kernels."""
    return _pair(k) == (2, 2) and _pair(s) == (2, 2)


def maxpool2x2_into(x_nhwc, out):
    """2x2/2 max-pool values of NHWC x into `out` (no cache): rows first, which compares long
    contiguous runs, then columns on half the data."""
    ho, wo = out.shape[1], out.shape[2]
    rows = np.maximum(x_nhwc[:, 0:2 * ho:2, :2 * wo], x_nhwc[:, 1:2 * ho:2, :2 * wo])
    np.maximum(rows[:, :, 0::2], rows[:, :, 1::2], out=out)


def maxpool2x2_train_into(x_nhwc, out, wins):
    """2x2/2 max-pool of NHWC x into `out`, and into `wins` the three "which half won" masks
    (top row vs bottom row, left vs right in the top row, left vs right in the bottom row);
    ties go to the first maximum in row order, as in PyTorch."""
    n, ho, wo, c = out.shape
    v = x_nhwc[:, :2 * ho, :2 * wo, :].reshape(n, ho, 2, wo, 2, c)
    top = np.maximum(v[:, :, 0, :, 0], v[:, :, 0, :, 1], out=out)
    bottom = np.maximum(v[:, :, 1, :, 0], v[:, :, 1, :, 1])
    np.greater_equal(top, bottom, out=wins[0])
    np.greater_equal(v[:, :, 0, :, 0], v[:, :, 0, :, 1], out=wins[1])
    np.greater_equal(v[:, :, 1, :, 0], v[:, :, 1, :, 1], out=wins[2])
    np.maximum(top, bottom, out=top)


def unpool2x2_into(dy_nhwc, wins, dx):
    """Route the gradient of a 2x2/2 max-pool's output to the winner of each window, writing
    all of dx[:, :2*Ho, :2*Wo] (the caller zeroes any odd last row or column)."""
    n, ho, wo, c = dy_nhwc.shape
    top, left_top, left_bottom = wins
    dv = dx[:, :2 * ho, :2 * wo, :].reshape(n, ho, 2, wo, 2, c)
    dtop, dbottom = dy_nhwc * top, dy_nhwc * ~top
    np.multiply(dtop, left_top, out=dv[:, :, 0, :, 0])
    np.multiply(dtop, ~left_top, out=dv[:, :, 0, :, 1])
    np.multiply(dbottom, left_bottom, out=dv[:, :, 1, :, 0])
    np.multiply(dbottom, ~left_bottom, out=dv[:, :, 1, :, 1])


def _pool_windows(x_nhwc, kh, kw, sh, sw):
    """Strided view (N, Ho, Wo, kh*kw, C) of every pooling window (a copy only for kh*kw > 1
    windows that overlap: reshape needs it)."""
    n, h, w, c = x_nhwc.shape
    ho, wo = out_size(h, kh, sh), out_size(w, kw, sw)
    sn, s_h, s_w, sc = x_nhwc.strides
    win = as_strided(x_nhwc, (n, ho, wo, kh, kw, c), (sn, s_h * sh, s_w * sw, s_h, s_w, sc),
                     writeable=False)
    return win.reshape(n, ho, wo, kh * kw, c)


def _window_slices(i, j, ho, wo, sh, sw):
    """The input positions that kernel offset (i, j) of every window covers, as slices."""
    return (slice(None), slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw))


def maxpool_forward(x_nhwc, k, s, training=True):
    """Max pooling of NHWC input, windows k (int or (kh, kw)), stride s (int or pair), no
    padding (floor, like PyTorch; a padded pool pads its input first, with -inf).

    Returns (y (N, Ho, Wo, C), cache for the backward pass or None when not training). 2x2/2 is
    done with four strided views, on shards of the batch in parallel; its cache is three boolean
    "which half won" arrays, so backward needs no comparisons.
    """
    n, h, w, c = x_nhwc.shape
    (kh, kw), (sh, sw) = _pair(k), _pair(s)
    ho, wo = out_size(h, kh, sh), out_size(w, kw, sw)
    if not is_2x2(k, s):
        win = _pool_windows(x_nhwc, kh, kw, sh, sw)
        arg = win.argmax(axis=3)
        y = np.take_along_axis(win, arg[:, :, :, None, :], axis=3)[:, :, :, 0, :]
        return y, arg.astype(np.int16)
    y = np.empty((n, ho, wo, c), dtype=x_nhwc.dtype)
    if not training:
        run_sharded(lambda a, b: maxpool2x2_into(x_nhwc[a:b], y[a:b]), n)
        return y, None
    wins = tuple(np.empty((n, ho, wo, c), dtype=bool) for _ in range(3))
    run_sharded(lambda a, b: maxpool2x2_train_into(x_nhwc[a:b], y[a:b], [m[a:b] for m in wins]),
                n)
    return y, wins


def maxpool_backward(dy_nhwc, x_shape, cache, k, s):
    """Route each output gradient to the first maximum of its window (ties: first in row order)."""
    n, h, w, c = x_shape
    ho, wo = dy_nhwc.shape[1], dy_nhwc.shape[2]
    even = (h == 2 * ho and w == 2 * wo)
    dx = (np.empty if even and is_2x2(k, s) else np.zeros)(x_shape, dtype=dy_nhwc.dtype)
    if is_2x2(k, s):
        run_sharded(lambda a, b: unpool2x2_into(dy_nhwc[a:b], [m[a:b] for m in cache], dx[a:b]),
                    n)
        return dx
    (kh, kw), (sh, sw) = _pair(k), _pair(s)
    for i in range(kh):
        for j in range(kw):
            hit = cache == i * kw + j
            dx[_window_slices(i, j, ho, wo, sh, sw)] += dy_nhwc * hit
    return dx


def avgpool_forward(x_nhwc, k, s):
    """Average pooling of NHWC input, windows k, stride s (ints or pairs), no padding."""
    n, h, w, c = x_nhwc.shape
    (kh, kw), (sh, sw) = _pair(k), _pair(s)
    ho, wo = out_size(h, kh, sh), out_size(w, kw, sw)
    if is_2x2(k, s):
        v = x_nhwc[:, :2 * ho, :2 * wo, :].reshape(n, ho, 2, wo, 2, c)
        y = v[:, :, 0, :, 0] + v[:, :, 0, :, 1]
        y += v[:, :, 1, :, 0]
        y += v[:, :, 1, :, 1]
        y *= 0.25
        return y
    y = np.zeros((n, ho, wo, c), dtype=x_nhwc.dtype)
    for i in range(kh):
        for j in range(kw):
            y += x_nhwc[_window_slices(i, j, ho, wo, sh, sw)]
    y *= 1.0 / (kh * kw)
    return y


def avgpool_backward(dy_nhwc, x_shape, k, s):
    (kh, kw), (sh, sw) = _pair(k), _pair(s)
    ho, wo = dy_nhwc.shape[1], dy_nhwc.shape[2]
    dx = np.zeros(x_shape, dtype=dy_nhwc.dtype)
    share = dy_nhwc * (1.0 / (kh * kw))
    for i in range(kh):
        for j in range(kw):
            dx[_window_slices(i, j, ho, wo, sh, sw)] += share
    return dx
