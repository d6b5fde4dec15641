"""Fused kernels: a convolution with what follows it, applied to each chunk of images while it
is in cache (one pass and one hand-off to nnlib's threads instead of three).

- `conv_pool_forward` / `conv_pool_backward`: convolution -> 2x2/2 max-pool [-> ReLU], the
  training block. Max-pool commutes with adding the bias and with ReLU, so the pool runs first
  and bias and ReLU act on a quarter of the values; rounding is monotonic, so the values are the
  ones the separate ops give. Neither the full-size convolution output nor its gradient is ever
  written to memory.
- `fold_batchnorm`: an eval-mode BatchNorm (y * scale + shift per channel) folded into the
  convolution's weights and bias (equal to the separate ops within float rounding).
"""
import numpy as np

from .conv import conv2d_backward, conv2d_output_hw, convolve_chunks
from .elementwise import affine_into
from .pool import maxpool2x2_into, maxpool2x2_train_into, unpool2x2_into


def conv_pool_forward(x_nhwc, w, b, stride, padding, relu=False, training=False, affine=None):
    """Convolution (weight (O, C, kh, kw), bias (O,)) -> 2x2/2 max-pool [-> y * scale + shift per
    channel, `affine` = (scale, shift): an eval-mode BatchNorm after the pool] [-> ReLU] of NHWC
    input.

    Returns (y (N, Ho//2, Wo//2, O), cache): in training the cache is what `conv_pool_backward`
    needs (padded input and the pool's "which half won" masks), otherwise None.
    """
    o = w.shape[0]
    ho, wo = conv2d_output_hw(x_nhwc.shape, w.shape, stride, padding)
    shape = (x_nhwc.shape[0], ho // 2, wo // 2, o)
    y = np.empty(shape, dtype=np.result_type(x_nhwc, w))
    wins = tuple(np.empty(shape, dtype=bool) for _ in range(3)) if training else None

    def finish(out, s, e):
        if wins is None:
            maxpool2x2_into(out, y[s:e])
        else:
            maxpool2x2_train_into(out, y[s:e], [m[s:e] for m in wins])
        ys = y[s:e]
        ys += b
        if affine is not None:
            affine_into(ys, *affine, ys)
        if relu:
            np.maximum(ys, 0, out=ys)

    xp = convolve_chunks(x_nhwc, w, stride, padding, None, finish)
    return y, ((xp, (ho, wo), wins, y if relu else None) if training else None)


def conv_pool_backward(dy_nhwc, cache, w, x_shape, stride, padding, need_dx=True):
    """Gradients of conv_pool_forward from the gradient of its output: (dx NHWC or None, dW,
    db). Each group of images routes dy back through the ReLU and the pool into a group-sized
    buffer before the convolution's products, with the values the separate ops would give."""
    xp, conv_hw, wins, y = cache

    def group_dy(first, stop):
        return unpool_group(dy_nhwc, wins, y, first, stop, conv_hw), first

    return conv2d_backward(dy_nhwc, xp, w, x_shape, stride, padding, need_dx, group_dy)


def unpool_group(dy_nhwc, wins, y, first, stop, conv_hw):
    """Gradient of the (conv_hw-sized) pool input of images [first, stop) from the gradient of
    the pooled output, through the ReLU first when `y`, the ReLU's output, is given."""
    dy = dy_nhwc[first:stop]
    if y is not None:
        dy = dy * (y[first:stop] > 0)
    h, w = conv_hw
    ho, wo = dy.shape[1], dy.shape[2]
    even = h == 2 * ho and w == 2 * wo
    out = (np.empty if even else np.zeros)((stop - first, h, w, dy.shape[3]), dtype=dy.dtype)
    unpool2x2_into(dy, [m[first:stop] for m in wins], out)
    return out


def fold_batchnorm(w, b, scale, shift):
    """Weight and bias of a convolution followed by y * scale + shift per output channel."""
    return w * scale[:, None, None, None], b * scale + shift
