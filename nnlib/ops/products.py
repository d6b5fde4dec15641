"""The kernels' BLAS calls: matrix products and accurate float32 column sums.

Every product goes through `np.dot`, never `np.matmul` or `@`: NumPy 2.4's matmul holds the GIL
through the BLAS call for some shapes, among them nnlib's own (a first convolution's weight
gradient, (9, 6,272) x (6,272, 32): two threads took as long as one, 0.86-0.98x, against 1.94x
with np.dot; a vector-matrix product: twice one thread's time). np.dot calls the same sgemm and
sgemv and releases the GIL, so the other thread keeps working.
"""
import numpy as np

_ONES = {}


def gemm(a, b, out=None):
    """a @ b for 2-D arrays (either may be a transposed view), into C-contiguous `out` if given,
    with the GIL released."""
    return np.dot(a, b, out=out)


def column_sums(a):
    """float64 column sums of a (rows, C) block: one BLAS matrix-vector product, whose blocked
    accumulation keeps float32 within ~1e-6 relative over a group of images (a plain float32
    sum drifts 5x more, a float64 sum costs 12x the time); callers add groups in float64."""
    ones = _ONES.get(a.dtype)
    if ones is None or len(ones) < len(a):
        ones = _ONES[a.dtype] = np.ones(max(len(a), 1 << 16), dtype=a.dtype)
    return gemm(ones[:len(a)], a).astype(np.float64)
