"""Pure array operations behind the layers: convolution and its gradients, the 2x2 max-pool
kernels (also fused into convolution), softmax. The pooling layers' own ops: `nnlib.pooling`.

Layouts: the public layer API is NCHW. Internally every op works on NHWC memory, because then
im2col copies contiguous channel runs and one GEMM yields the output with channels last. Outputs
are returned as NCHW-shaped *views* of NHWC memory (``y.transpose(0, 3, 1, 2)``), so no copy is
spent on going back and forth; `to_nhwc` turns any NCHW array into contiguous NHWC (a free view
when the memory already is NHWC).
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from .threads import GROUP, reduce_blocks, run_sharded


def to_nhwc(x):
    """(N, C, H, W) array of any memory layout -> C-contiguous (N, H, W, C)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def as_nchw(y):
    """(N, H, W, C) -> an (N, C, H, W) view of the same memory."""
    return y.transpose(0, 3, 1, 2)


def out_size(size, kernel, stride, padding=0):
    return (size + 2 * padding - kernel) // stride + 1


def strided_view(x, shape, strides):
    """Read-only view of x's memory with the given shape and byte strides, as NumPy's
    `as_strided`; for a C-contiguous x at a quarter of its cost (it runs in the chunk loops,
    holding the GIL that the other threads wait for), and checked against x's extent."""
    if x.flags.c_contiguous and x.size:
        view = np.ndarray(shape, x.dtype, buffer=x, strides=strides)
        view.flags.writeable = False
        return view
    return as_strided(x, shape, strides, writeable=False)


def windows(xp, kh, kw, stride):
    """Strided view (N, Ho, Wo, kh, kw, C) of every kernel window of an NHWC array; no copy."""
    n, hp, wp, c = xp.shape
    ho, wo = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    sn, sh, sw, sc = xp.strides
    return strided_view(xp, (n, ho, wo, kh, kw, c), (sn, sh * stride, sw * stride, sh, sw, sc))


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


# Below this many input channels im2col is built tap-major (`im2col_kmajor`).
KMAJOR_CHANNELS = 4


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


_ONES = {}


def column_sums(a):
    """float64 column sums of a (rows, C) block: one BLAS matrix-vector product, whose blocked
    accumulation keeps float32 within ~1e-6 relative over a group of images (a plain float32
    sum drifts 5x more, a float64 sum costs 12x the time); callers add groups in float64."""
    ones = _ONES.get(a.dtype)
    if ones is None or len(ones) < len(a):
        ones = _ONES[a.dtype] = np.ones(max(len(a), 1 << 16), dtype=a.dtype)
    return (ones[:len(a)] @ a).astype(np.float64)


def weight_matrix(w):
    """Conv weight (O, C, kh, kw) -> (kh*kw*C, O), matching im2col's column order."""
    o = w.shape[0]
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(-1, o)


# The im2col matrix of a whole batch is tens of MB; built and consumed a few images at a time it
# stays in cache between the copy and the GEMM (measured 1.3-2x faster per layer on this machine).
_CHUNK_BYTES = 2 << 20


def chunk_size(xp_shape, kh, kw, stride, itemsize):
    """Images per im2col chunk: about _CHUNK_BYTES of matrix, 2-8 images (row-major), up to 32
    for the tap-major layout of few channels, whose copies are small and many per image (with
    several threads, fewer and larger copies also mean less time holding the GIL)."""
    n, hp, wp, c = xp_shape
    rows = ((hp - kh) // stride + 1) * ((wp - kw) // stride + 1)
    top = 32 if c < KMAJOR_CHANNELS else 8
    images = int(np.clip(_CHUNK_BYTES // max(1, rows * kh * kw * c * itemsize), 2, top))
    # a power of two: chunks then tile the blocks of threads.BLOCK images, so each GEMM sees
    # the same rows whether the batch runs whole or block by block
    return 1 << (images.bit_length() - 1)


def conv2d_forward(x_nhwc, w, b, stride, padding, relu=False, pool=False, wins=None):
    """Convolution of NHWC input with weight (O, C, kh, kw) and bias (O,); with relu=True
    followed by max(y, 0) and with pool=True by a 2x2/2 max-pool, both applied to each chunk
    while it is in cache. The pool keeps values only (eval mode) unless `wins` is given: three
    boolean arrays shaped like the pooled output that receive its "which half won" masks
    (training; see `maxpool2x2_train_into`).

    Returns (y (N, Ho, Wo, O) contiguous (pooled: Ho//2, Wo//2), padded input kept for the
    backward pass). Shards of the batch run on nnlib's threads (`nnlib.threads`), each in
    cache-sized chunks of images.
    """
    o, _, kh, kw = w.shape
    n, h, wd, c = x_nhwc.shape
    xp = x_nhwc
    if padding:   # filled shard by shard below
        xp = np.empty((n, h + 2 * padding, wd + 2 * padding, c), dtype=x_nhwc.dtype)
    ho, wo = (xp.shape[1] - kh) // stride + 1, (xp.shape[2] - kw) // stride + 1
    wm = weight_matrix(w)
    dtype = np.result_type(x_nhwc, w)
    y = np.empty((n, ho // 2, wo // 2, o) if pool else (n, ho, wo, o), dtype=dtype)
    step = chunk_size(xp.shape, kh, kw, stride, xp.itemsize)
    kmajor = c < KMAJOR_CHANNELS

    def shard(first, stop):
        if padding:
            pad_into(xp[first:stop], x_nhwc[first:stop], padding)
        buf = np.empty((step, ho, wo, o), dtype=dtype) if pool else None
        for s in range(first, stop, step):
            e = min(s + step, stop)
            out = buf[:e - s] if pool else y[s:e]
            ys = out.reshape(-1, o)
            if kmajor:
                np.matmul(im2col_kmajor(xp[s:e], kh, kw, stride).T, wm, out=ys)
            else:
                np.matmul(im2col(xp[s:e], kh, kw, stride), wm, out=ys)
            if pool:   # max-pool commutes with adding the bias and with ReLU: pool first,
                # then bias and ReLU on a quarter of the values (rounding is monotonic, so the
                # values are the ones the unfused layers give)
                if wins is None:
                    maxpool2x2_into(out, y[s:e])
                else:
                    maxpool2x2_train_into(out, y[s:e], [m[s:e] for m in wins])
                ys = y[s:e]
            ys += b
            if relu:
                np.maximum(ys, 0, out=ys)

    # shards start on chunk bounds, so every GEMM sees the same rows whatever the thread count
    # (OpenBLAS kernels may round a row differently in GEMMs of another height)
    run_sharded(shard, n, align=step)
    return y, xp


def pad_into(out, x, padding):
    """Write NHWC `x` zero-framed by `padding` pixels into `out` (every element written)."""
    p = padding
    out[:, :p] = 0
    out[:, -p:] = 0
    out[:, p:-p, :p] = 0
    out[:, p:-p, -p:] = 0
    out[:, p:-p, p:-p] = x


def conv2d_backward(dy_nhwc, xp, w, x_shape, stride, padding, need_dx=True, pooled=None):
    """Gradients of conv2d_forward: (dx NHWC or None, dW (O, C, kh, kw), db (O,)).

    With `pooled` = (wins, y) the convolution ran fused with a 2x2/2 max-pool (and a ReLU if `y`,
    its output, is not None): `dy_nhwc` is then the gradient of the pooled output, and each
    group of images routes it back through the ReLU and the pool into a cache-sized buffer,
    with the same values the separate layers would give.

    Per chunk of images: im2col again (cheaper than keeping the whole matrix), dW += one GEMM,
    and dx: for stride 1 the full correlation of dy with the flipped kernel as im2col + one GEMM
    (a kernel-offset accumulation of strided adds was 4x slower); for larger strides the
    kernel-offset accumulation of col2im, which avoids convolving inserted zeros. dW and db are
    summed per group of `threads.GROUP` images, over the groups of each block of `threads.BLOCK`
    images, then over the blocks in order, so the result does not depend on how many threads
    shared the batch, nor on whether it ran whole or block by block.
    """
    o, c, kh, kw = w.shape
    n = dy_nhwc.shape[0]
    h, wd = x_shape[1], x_shape[2]
    dtype = np.result_type(dy_nhwc, w)
    dx = np.empty((n, h, wd, c), dtype=dtype) if need_dx else None
    wm = weight_matrix(w)
    wflip = flipped_weight_matrix(w) if need_dx and stride == 1 else None
    step = chunk_size(xp.shape, kh, kw, stride, xp.itemsize)

    def chunk(s, e, dwm, dyg, base, frame):
        dys = dyg[s - base:e - base]   # dyg holds the output gradient of images base, base+1, ...
        dy2 = dys.reshape(-1, o)
        if c < KMAJOR_CHANNELS:
            part = im2col_kmajor(xp[s:e], kh, kw, stride) @ dy2
        else:
            part = im2col(xp[s:e], kh, kw, stride).T @ dy2
        if dwm is None:
            dwm = part
        else:
            dwm += part
        if need_dx and stride == 1:
            _conv_input_grad_gemm(dys, wflip, kh, kw, padding, frame, dx[s:e])
        elif need_dx:
            dcol = (dy2 @ wm.T).reshape(dys.shape[:3] + (kh, kw, c))
            dxp = col2im(dcol, (e - s, h + 2 * padding, wd + 2 * padding, c), kh, kw, stride)
            dx[s:e] = dxp[:, padding:padding + h, padding:padding + wd, :]
        return dwm

    conv_hw = ((xp.shape[1] - kh) // stride + 1, (xp.shape[2] - kw) // stride + 1)

    def group(first, stop):
        dyg, base = dy_nhwc, 0
        if pooled is not None:
            dyg, base = unpool_group(dy_nhwc, pooled, first, stop, conv_hw), first
        dwm, frame = None, None
        if need_dx and stride == 1:   # zero borders, written once; chunks fill the interior
            frame = np.zeros((min(step, stop - first), h + kh - 1, wd + kw - 1, o), dtype=dtype)
        for s in range(first, stop, step):
            dwm = chunk(s, min(s + step, stop), dwm, dyg, base, frame)
        return dwm, column_sums(dyg[first - base:stop - base].reshape(-1, o))

    dw = db = None
    for dwm, dbb in reduce_blocks(group, n, GROUP):   # blocks added in order, as nnlib.blocks does
        dwb = np.ascontiguousarray(dwm.reshape(kh, kw, c, o).transpose(3, 2, 0, 1))
        dbb = dbb.astype(w.dtype)
        if dw is None:
            dw, db = dwb, dbb
        else:
            dw += dwb
            db += dbb
    return dx, dw, db


def flipped_weight_matrix(w):
    """Conv weight (O, C, kh, kw) flipped in space, as a (kh*kw*O, C) matrix for the input gradient."""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)).reshape(-1, w.shape[1])


def _conv_input_grad_gemm(dy_nhwc, wflip, kh, kw, padding, frame, out):
    """dx of a stride-1 convolution into `out` (N, H, W, C), C-contiguous: correlate the
    zero-framed dy with the kernel flipped in space and transposed in channels (`wflip`), as
    one im2col and one GEMM. `frame` (>= N, H+kh-1, W+kw-1, O) has zero borders; its interior
    is overwritten here, so one frame serves every chunk of a group."""
    n, ho, wo, o = dy_nhwc.shape
    frame = frame[:n]
    # dy sits at offset (kh-1-padding) inside a frame sized so the output is exactly (H, W)
    top, left = kh - 1 - padding, kw - 1 - padding
    src = dy_nhwc[:, max(0, -top):, max(0, -left):, :]
    src = src[:, :frame.shape[1] - max(top, 0), :frame.shape[2] - max(left, 0), :]
    frame[:, max(top, 0):max(top, 0) + src.shape[1], max(left, 0):max(left, 0) + src.shape[2], :] = src
    np.matmul(im2col(frame, kh, kw, 1), wflip, out=out.reshape(-1, out.shape[3]))


def _is_2x2(k, s):
    return k == 2 and s == 2


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


def unpool_group(dy_nhwc, pooled, first, stop, conv_hw):
    """Gradient of the convolution output of images [first, stop) from the gradient `dy_nhwc`
    of its pooled (and ReLU'd, when pooled[1] is not None) output: see conv2d_backward."""
    wins, y = pooled
    dy = dy_nhwc[first:stop]
    if y is not None:
        dy = dy * (y[first:stop] > 0)
    h, w = conv_hw
    ho, wo = dy.shape[1], dy.shape[2]
    even = h == 2 * ho and w == 2 * wo
    out = (np.empty if even else np.zeros)((stop - first, h, w, dy.shape[3]), dtype=dy.dtype)
    unpool2x2_into(dy, [m[first:stop] for m in wins], out)
    return out


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


def log_softmax(logits):
    """Numerically stable log-softmax over the last axis, in the logits' dtype."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e
