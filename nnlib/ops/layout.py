"""Memory layout helpers shared by the ops.

The public layer API is NCHW. Internally every op works on NHWC memory, because then im2col
copies contiguous channel runs and one GEMM yields the output with channels last. Outputs are
returned as NCHW-shaped *views* of NHWC memory (``y.transpose(0, 3, 1, 2)``), so no copy is
spent on going back and forth; `to_nhwc` turns any NCHW array into contiguous NHWC (a free view
when the memory already is NHWC).
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided


def to_nhwc(x):
    """(N, C, H, W) array of any memory layout -> C-contiguous (N, H, W, C)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def as_nchw(y):
    """(N, H, W, C) -> an (N, C, H, W) view of the same memory."""
    return y.transpose(0, 3, 1, 2)


def out_size(size, kernel, stride, padding=0):
    """Output length of a window op along one axis (floor of partial windows)."""
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
