"""contest's one way to hold BLAS at one thread, while it predicts and while a worker trains.

Predicting, members and batches run side by side on the cores instead, and OpenBLAS's threads
cost more than they bring on small GEMMs (one MNIST image through arch d: ~2 ms with one BLAS
thread, ~50 ms with two on a busy 2-core machine). Training, a worker runs nnlib's own threads
(`worker_threads`): nnlib splits the batch over them, which uses a second core far better than a
second BLAS thread.

Uses nnlib's handle on the OpenBLAS NumPy loaded (one C call), else threadpoolctl, which knows
more kinds of BLAS but takes milliseconds to find them.
"""
from contextlib import contextmanager


@contextmanager
def one_blas_thread():
    """BLAS at one thread inside the block, restored after."""
    from nnlib.runtime.blas import blas_threads, one_blas_thread as nnlib_hold

    if blas_threads() is None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            yield
        return
    with nnlib_hold():   # the same counted hold as nnlib's own passes, restored by the last
        yield


@contextmanager
def worker_threads(threads):
    """Inside, nnlib runs `threads` threads of its own and BLAS one; both restored after."""
    import nnlib as nn

    before = nn.get_num_threads()
    nn.set_num_threads(threads)
    try:
        with one_blas_thread():
            yield
    finally:
        nn.set_num_threads(before)
