"""Convolution kernels on NHWC memory: im2col / col2im and the forward and backward passes.

Shards of the batch run on nnlib's threads (`nnlib.runtime.threads`), each in cache-sized chunks
of images. How the batch is cut (chunks, groups, blocks) is fixed by `nnlib.runtime.constants`,
so the numbers do not depend on the thread count. The fused conv-pool-ReLU variants build on
`convolve_chunks` and `conv2d_backward(group_dy=...)` (`nnlib.ops.fused`).
"""
import numpy as np

from ..runtime.constants import (CHUNK_BYTES, CHUNK_IMAGES, CHUNK_IMAGES_KMAJOR, GROUP,
                                 KMAJOR_CHANNELS)
from ..runtime.threads import reduce_blocks, run_sharded
from .layout import out_size, strided_view, windows
from .products import column_sums, gemm


def im2col(xp, kh, kw, stride, out=None):
    """Copy the windows of padded NHWC `xp` into a (N*Ho*Wo, kh*kw*C) matrix, rows in NHW order."""
    win = windows(xp, kh, kw, stride)
    if out is None:
        out = np.empty(win.shape, dtype=xp.dtype)
    else:
        out = out.reshape(win.shape)
    np.copyto(out, win)
    return out.reshape(-1, kh * kw * xp.shape[3])


def im2col_kmajor(xp, kh, kw, stride, out=None):
    """im2col transposed: a (kh*kw*C, N*Ho*Wo) matrix, one row per kernel tap.

    For few input channels the row-major copy moves runs of only kw*C values (2.4 ms for a
    5x5 single-channel batch of 128); here one strided copy moves whole image rows per tap
    (0.6 ms), and as a single NumPy call it holds the GIL once, not once per tap.
    """
    n, hp, wp, c = xp.shape
    ho, wo = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    sn, sh, sw, sc = xp.strides
    taps = strided_view(xp, (kh, kw, c, n, ho, wo), (sh, sw, sc, sn, sh * stride, sw * stride))
    if out is None:
        out = np.empty(taps.shape, dtype=xp.dtype)
    else:
        out = out.reshape(taps.shape)
    np.copyto(out, taps)
    return out.reshape(kh * kw * c, n * ho * wo)


def col2im(dcol, xp_shape, kh, kw, stride):
    """Adjoint of im2col: sum (N, Ho, Wo, kh, kw, C) window gradients into a padded NHWC array.

    Loops over the kh*kw kernel offsets only; each iteration is one strided add of the batch.
    """
    n, hp, wp, c = xp_shape
    ho, wo = dcol.shape[1], dcol.shape[2]
    dxp = np.zeros(xp_shape, dtype=dcol.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride, :] += \
                dcol[:, :, :, i, j, :]
    return dxp


def weight_matrix(w):
    """Conv weight (O, C, kh, kw) -> (kh*kw*C, O), matching im2col's column order."""
    o = w.shape[0]
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(-1, o)


def flipped_weight_matrix(w):
    """Conv weight (O, C, kh, kw) flipped in space, as a (kh*kw*O, C) matrix for the input gradient."""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)).reshape(-1, w.shape[1])


def chunk_size(xp_shape, kh, kw, stride, itemsize):
    """Images per im2col chunk: about CHUNK_BYTES of matrix, built and consumed while in cache
    (measured 1.3-2x faster per layer than a whole-batch matrix); 2-8 images (row-major), up to
    32 for the tap-major layout of few channels, whose copies are small and many per image."""
    n, hp, wp, c = xp_shape
    rows = ((hp - kh) // stride + 1) * ((wp - kw) // stride + 1)
    top = CHUNK_IMAGES_KMAJOR if c < KMAJOR_CHANNELS else CHUNK_IMAGES
    # Python ints, not np.clip: this runs at every convolution call (0.3 us against 5.5 us,
    # 5 % of a 4-image forward pass of the default network in a py-spy profile)
    images = min(max(CHUNK_BYTES // max(1, rows * kh * kw * c * itemsize), 2), top)
    # a power of two: chunks then tile the blocks of BLOCK images, so each GEMM sees the same
    # rows whether the batch runs whole or block by block
    return 1 << (images.bit_length() - 1)


def conv2d_output_hw(x_shape, w_shape, stride, padding):
    """(Ho, Wo) of a convolution of NHWC input shape `x_shape` with weight shape (O, C, kh, kw)."""
    kh, kw = w_shape[2], w_shape[3]
    return out_size(x_shape[1], kh, stride, padding), out_size(x_shape[2], kw, stride, padding)


def pad_into(out, x, padding):
    """Write NHWC `x` zero-framed by `padding` pixels into `out` (every element written)."""
    p = padding
    out[:, :p] = 0
    out[:, -p:] = 0
    out[:, p:-p, :p] = 0
    out[:, p:-p, -p:] = 0
    out[:, p:-p, p:-p] = x


def convolve_chunks(x_nhwc, w, stride, padding, into, epilogue):
    """The convolution's products (no bias) chunk by chunk, over shards of the batch on nnlib's
    threads. Each chunk's (e - s, Ho, Wo, O) products go to into[s:e], or with into=None to a
    scratch buffer of the shard; then epilogue(products, s, e) runs while they are in cache.
    Returns the padded input (kept for the backward pass)."""
    o, _, kh, kw = w.shape
    n, h, wd, c = x_nhwc.shape
    xp = x_nhwc
    if padding:   # filled shard by shard below
        xp = np.empty((n, h + 2 * padding, wd + 2 * padding, c), dtype=x_nhwc.dtype)
    ho, wo = conv2d_output_hw(x_nhwc.shape, w.shape, stride, padding)
    wm = weight_matrix(w)
    dtype = np.result_type(x_nhwc, w)
    step = chunk_size(xp.shape, kh, kw, stride, xp.itemsize)

    def shard(first, stop):
        if padding:
            pad_into(xp[first:stop], x_nhwc[first:stop], padding)
        buf = np.empty((step, ho, wo, o), dtype=dtype) if into is None else None
        for s in range(first, stop, step):
            e = min(s + step, stop)
            out = buf[:e - s] if into is None else into[s:e]
            if c < KMAJOR_CHANNELS:
                gemm(im2col_kmajor(xp[s:e], kh, kw, stride).T, wm, out=out.reshape(-1, o))
            else:
                gemm(im2col(xp[s:e], kh, kw, stride), wm, out=out.reshape(-1, o))
            epilogue(out, s, e)

    # shards start on chunk bounds, so every GEMM sees the same rows whatever the thread count
    run_sharded(shard, n, align=step)
    return xp


def conv2d_forward(x_nhwc, w, b, stride, padding, relu=False):
    """Convolution of NHWC input with weight (O, C, kh, kw) and bias (O,), with relu=True
    followed by max(y, 0) on each chunk while it is in cache.

    Returns (y (N, Ho, Wo, O) contiguous, padded input kept for the backward pass).
    """
    o = w.shape[0]
    ho, wo = conv2d_output_hw(x_nhwc.shape, w.shape, stride, padding)
    y = np.empty((x_nhwc.shape[0], ho, wo, o), dtype=np.result_type(x_nhwc, w))

    def finish(out, s, e):
        ys = out.reshape(-1, o)
        ys += b
        if relu:
            np.maximum(ys, 0, out=ys)

    return y, convolve_chunks(x_nhwc, w, stride, padding, y, finish)


def conv2d_backward(dy_nhwc, xp, w, x_shape, stride, padding, need_dx=True, group_dy=None):
    """Gradients of conv2d_forward: (dx NHWC or None, dW (O, C, kh, kw), db (O,)).

    Per chunk of images: im2col again (cheaper than keeping the whole matrix), dW += one GEMM,
    and dx: for stride 1 the full correlation of dy with the flipped kernel as im2col + one GEMM
    (`conv_input_grad_gemm`); for larger strides the kernel-offset accumulation of col2im, which
    avoids convolving inserted zeros. dW and db are summed per group of GROUP images, over the
    groups of each block of BLOCK images, then over the blocks in order, so the result does not
    depend on how many threads shared the batch, nor on whether it ran whole or in blocks.

    `group_dy(first, stop)`, if given, returns (g, base): g[i - base] is the gradient of the
    convolution output of image i, for first <= i < stop (`nnlib.ops.fused` derives it per group
    from the gradient of a pooled output); by default that is dy_nhwc itself.
    """
    n = dy_nhwc.shape[0]
    c = w.shape[1]
    dtype = np.result_type(dy_nhwc, w)
    dx = np.empty((n, x_shape[1], x_shape[2], c), dtype=dtype) if need_dx else None
    if group_dy is None:
        group_dy = lambda first, stop: (dy_nhwc, 0)   # noqa: E731
    grads = _GroupGradients(xp, w, x_shape, stride, padding, dx, dtype)

    def group(first, stop):
        dyg, base = group_dy(first, stop)
        return grads.group(dyg, base, first, stop)

    dw, db = _add_blocks(reduce_blocks(group, n, GROUP), w)   # in order, as the blocks runtime does
    return dx, dw, db


def _add_blocks(block_sums, w):
    """Sum the per-block (dW matrix, db) pairs in order; dW back to (O, C, kh, kw)."""
    o, c, kh, kw = w.shape
    dw = db = None
    for dwm, dbb in block_sums:
        dwb = np.ascontiguousarray(dwm.reshape(kh, kw, c, o).transpose(3, 2, 0, 1))
        dbb = dbb.astype(w.dtype)
        if dw is None:
            dw, db = dwb, dbb
        else:
            dw += dwb
            db += dbb
    return dw, db


class _GroupGradients:
    """One group of images' share of conv2d_backward: its dW matrix and db partial sums, and
    its rows of dx."""

    def __init__(self, xp, w, x_shape, stride, padding, dx, dtype):
        self.xp, self.stride, self.padding, self.dx, self.dtype = xp, stride, padding, dx, dtype
        self.o, self.c, self.kh, self.kw = w.shape
        self.h, self.wd = x_shape[1], x_shape[2]
        self.wm = weight_matrix(w)
        self.wflip = flipped_weight_matrix(w) if dx is not None and stride == 1 else None
        self.step = chunk_size(xp.shape, self.kh, self.kw, stride, xp.itemsize)

    def group(self, dyg, base, first, stop):
        dwm, frame = None, None
        if self.wflip is not None:   # zero borders, written once; chunks fill the interior
            frame = np.zeros((min(self.step, stop - first), self.h + self.kh - 1,
                              self.wd + self.kw - 1, self.o), dtype=self.dtype)
        for s in range(first, stop, self.step):
            dwm = self.chunk(s, min(s + self.step, stop), dwm, dyg, base, frame)
        return dwm, column_sums(dyg[first - base:stop - base].reshape(-1, self.o))

    def chunk(self, s, e, dwm, dyg, base, frame):
        kh, kw, c, stride, p = self.kh, self.kw, self.c, self.stride, self.padding
        dys = dyg[s - base:e - base]   # dyg holds the output gradient of images base, base+1, ...
        dy2 = dys.reshape(-1, self.o)
        if c < KMAJOR_CHANNELS:
            part = gemm(im2col_kmajor(self.xp[s:e], kh, kw, stride), dy2)
        else:
            part = gemm(im2col(self.xp[s:e], kh, kw, stride).T, dy2)
        if dwm is None:
            dwm = part
        else:
            dwm += part
        if self.wflip is not None:
            conv_input_grad_gemm(dys, self.wflip, kh, kw, p, frame, self.dx[s:e])
        elif self.dx is not None:
            dcol = gemm(dy2, self.wm.T).reshape(dys.shape[:3] + (kh, kw, c))
            dxp = col2im(dcol, (e - s, self.h + 2 * p, self.wd + 2 * p, c), kh, kw, stride)
            self.dx[s:e] = dxp[:, p:p + self.h, p:p + self.wd, :]
        return dwm


def conv_input_grad_gemm(dy_nhwc, wflip, kh, kw, padding, frame, out):
    """dx of a stride-1 convolution into `out` (N, H, W, C), C-contiguous: correlate the
    zero-framed dy with the kernel flipped in space and transposed in channels (`wflip`), as
    one im2col and one GEMM (a kernel-offset accumulation of strided adds was 4x slower).
    `frame` (>= N, H+kh-1, W+kw-1, O) has zero borders; its interior is overwritten here, so
    one frame serves every chunk of a group."""
    n, ho, wo, o = dy_nhwc.shape
    frame = frame[:n]
    # dy sits at offset (kh-1-padding) inside a frame sized so the output is exactly (H, W)
    top, left = kh - 1 - padding, kw - 1 - padding
    src = dy_nhwc[:, max(0, -top):, max(0, -left):, :]
    src = src[:, :frame.shape[1] - max(top, 0), :frame.shape[2] - max(left, 0), :]
    frame[:, max(top, 0):max(top, 0) + src.shape[1], max(left, 0):max(left, 0) + src.shape[2], :] = src
    gemm(im2col(frame, kh, kw, 1), wflip, out=out.reshape(-1, out.shape[3]))
