"""Dense (affine) kernels: y = x @ W + b for x (N, in), W (in, out), b (out,).

Products are taken in GEMMs of ROWS rows and the weight gradient is summed per block of BLOCK
rows in order (`nnlib.runtime.constants`), so the numbers are the same for any thread count and
whether the batch runs whole or in blocks.
"""
import numpy as np

from ..runtime.constants import DENSE_THREAD_MIN_MACS, ROWS
from ..runtime.threads import block_bounds, run_parallel, run_sharded
from .products import gemm


def worth_threads(n, w):
    """Whether a batch of n rows is big enough for a hand-off to nnlib's threads."""
    return n * w.shape[0] * w.shape[1] >= DENSE_THREAD_MIN_MACS


def dense_forward(x, w, b):
    """x @ w + b in GEMMs of ROWS rows, shards of them on nnlib's threads for big batches."""
    y = np.empty((len(x), w.shape[1]), dtype=np.result_type(x, w))

    def rows(first, stop):   # GEMMs of fixed height: the same rounding for any thread count
        for s in range(first, stop, ROWS):
            e = min(s + ROWS, stop)
            gemm(x[s:e], w, out=y[s:e])
            y[s:e] += b

    if worth_threads(len(x), w):
        run_sharded(rows, len(x), align=ROWS)
    else:
        rows(0, len(x))
    return y


def dense_backward(x, dy, w, w_grad, b_grad, need_dx=True):
    """Write the weight and bias gradients into w_grad, b_grad; return dx (or None when
    need_dx is False). On threads the two products run side by side."""
    def weight_grad():   # summed over blocks of BLOCK rows in order, as the blocks runtime does
        for k, (s, e) in enumerate(block_bounds(len(x))):
            if k == 0:
                gemm(x[s:e].T, dy[s:e], out=w_grad)
                b_grad[...] = dy[s:e].sum(axis=0)
            else:
                np.add(w_grad, gemm(x[s:e].T, dy[s:e]), out=w_grad)
                np.add(b_grad, dy[s:e].sum(axis=0), out=b_grad)

    def input_grad():    # GEMMs of fixed height, as in forward
        dx = np.empty((len(dy), w.shape[0]), dtype=np.result_type(dy, w))
        for s in range(0, len(dy), ROWS):
            gemm(dy[s:s + ROWS], w.T, out=dx[s:s + ROWS])
        return dx

    if not need_dx:
        weight_grad()
        return None
    if not worth_threads(len(dy), w):
        weight_grad()
        return input_grad()
    return run_parallel(input_grad, weight_grad)[0]
