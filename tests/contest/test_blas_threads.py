"""contest.blas_threads: BLAS held at one thread (predicting and training), nnlib's own threads
set for a training worker, and both restored afterwards."""
import nnlib as nn
from nnlib.runtime.blas import blas_threads, set_blas_threads

from contest.blas_threads import one_blas_thread, worker_threads


def test_worker_threads_sets_nnlib_threads_and_one_blas_thread_then_restores_them():
    before_nnlib, before_blas = nn.get_num_threads(), blas_threads()
    assert before_blas is not None, "the test needs the OpenBLAS of NumPy's wheels"
    set_blas_threads(2)
    try:
        with worker_threads(3):
            assert nn.get_num_threads() == 3
            assert blas_threads() == 1
        assert nn.get_num_threads() == before_nnlib
        assert blas_threads() == 2
        with one_blas_thread(), one_blas_thread():   # nested holds, as members' tasks take them
            assert blas_threads() == 1
        assert blas_threads() == 2
    finally:
        set_blas_threads(before_blas)
