"""nnlib's BLAS products let nnlib's other thread run: a product that held the GIL would stall
the second thread of a training step for its whole duration."""
import ast
import pathlib
import sys
import threading
import time

import numpy as np
import pytest

import nnlib
from nnlib.ops.products import column_sums, gemm

# (a, b) shapes of the kind nnlib multiplies: a first 3x3 / 5x5 convolution's weight gradient (few
# output rows, a long inner dimension: the images' pixels), and a vector-matrix product as the
# column sums take. Longer than nnlib's own (6,272 pixels for 8 images) so that each product
# takes ~0.5 ms: the other thread needs tens of microseconds to wake, and would miss a shorter
# release on a virtual machine.
SHAPES = [((9, 1 << 16), (1 << 16, 32)), ((25, 1 << 16), (1 << 16, 16)),
          ((1, 1 << 17), (1 << 17, 32))]


def _other_thread_turns(work, repeats=30):
    """How often a second Python thread got to run while `work` ran `repeats` times on this one.

    The switch interval is raised to 100 s, so the interpreter never takes the GIL from this
    thread by force: the other thread runs only while `work` has released it."""
    turns, done = [0], threading.Event()

    def spin():
        while not done.is_set():
            turns[0] += 1
            time.sleep(0)   # gives the GIL back at once, so this thread never waits on it long

    interval = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    other = threading.Thread(target=spin)
    try:
        other.start()
        time.sleep(0.05)    # let it start and settle into its loop
        before = turns[0]
        for _ in range(repeats):
            work()
        during = turns[0] - before
    finally:
        done.set()
        other.join()
        sys.setswitchinterval(interval)
    return during


@pytest.mark.parametrize("a_shape,b_shape", SHAPES)
def test_gemm_releases_the_gil(a_shape, b_shape):
    rng = np.random.default_rng(0)
    a = rng.random(a_shape, dtype=np.float32)
    b = rng.random(b_shape, dtype=np.float32)
    np.testing.assert_allclose(gemm(a, b), a.astype(np.float64) @ b, rtol=1e-4)
    assert _other_thread_turns(lambda: gemm(a, b)) > 0


def test_column_sums_release_the_gil():
    a = np.random.default_rng(1).random((1 << 17, 32), dtype=np.float32)
    np.testing.assert_allclose(column_sums(a), a.sum(axis=0, dtype=np.float64), rtol=1e-5)
    assert _other_thread_turns(lambda: column_sums(a)) > 0


def test_kernels_multiply_only_through_gemm():
    """`@` and np.matmul hold the GIL for some shapes: nnlib's code uses neither."""
    offenders = []
    for path in pathlib.Path(nnlib.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.MatMult):
                offenders.append(f"{path.name}:{node.lineno} @")
            elif isinstance(node, ast.Attribute) and node.attr == "matmul":
                offenders.append(f"{path.name}:{node.lineno} matmul")
    assert offenders == []
