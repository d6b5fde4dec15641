"""BLAS at one thread while contest predicts: its members and batches run side by side on the
cores instead, and OpenBLAS's threads cost more than they bring on small GEMMs (one MNIST image
through arch d: ~2 ms with one BLAS thread, ~50 ms with two on a busy 2-core machine).

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
