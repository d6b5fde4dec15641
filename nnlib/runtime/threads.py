"""Intra-op threads: ops split the batch into contiguous shards and work on them in parallel.

NumPy runs element-wise work on one core, and the cache-sized GEMMs of a chunked convolution split
badly over BLAS threads, so a second core is best used by a second *caller*: a shard of the batch
per thread, each shard doing its own im2col, GEMMs and element-wise work (NumPy releases the GIL
in all of them). A Sequential's passes hold BLAS at one thread meanwhile
(`nnlib.runtime.blas.one_blas_thread`): the two kinds of threads would oversubscribe the cores,
and OpenBLAS's threaded GEMMs round differently from its one-thread GEMMs.

The thread count, unless `set_num_threads` chose one: NNLIB_NUM_THREADS when set, else
OMP_NUM_THREADS, else the cores this process may run on. Importing nnlib reads and changes
nothing: the count is read at first use.

Results do not depend on the thread count: shards only decide who computes which images, and
sums over the batch (weight gradients) are reduced over fixed groups of images in a fixed order.
"""
import os
import threading
from contextlib import contextmanager
from functools import partial

import numpy as np

from .constants import BLOCK, ELEMENTWISE_MIN

_state = {"threads": None, "pool": None, "fork_hook": False}   # threads None: automatic
_lock = threading.Lock()
_local = threading.local()   # .inline: this thread already runs one share of a parallel job


def set_num_threads(n):
    """Use `n` threads (>= 1) inside nnlib; 1 runs everything inline. Without it, the count
    is `default_num_threads()`.

    With n > 1, ops split each batch into n shards on a thread pool (started at first use), and
    a `Sequential` whose layers are all per-sample trains in blocks shared out over this process
    and n - 1 helper processes, forked at its first such training step
    (`nnlib.runtime.blocks`; this needs `fork`, i.e. Linux or macOS). That is where most of
    the speed-up comes from; results are bit-identical to one thread.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer (received: n={n!r})")
    with _lock:
        if n != get_num_threads() and _state["pool"] is not None:
            _state["pool"].shutdown(wait=True)
            _state["pool"] = None
        _state["threads"] = n


def _forget_pool_after_fork():
    # a forked child inherits the pool object but none of its threads: start a new one if needed
    _state["pool"] = None


def get_num_threads():
    threads = _state["threads"]
    return default_num_threads() if threads is None else threads


def default_num_threads():
    """NNLIB_NUM_THREADS, else OMP_NUM_THREADS, else the cores this process may run on. Values
    that are not positive integers are skipped."""
    return (_positive(os.environ.get("NNLIB_NUM_THREADS"))
            or _positive(os.environ.get("OMP_NUM_THREADS")) or available_cores())


def _positive(value):
    value = (value or "").split(",")[0].strip()   # OMP_NUM_THREADS may list nested levels
    return int(value) if value.isdigit() and int(value) >= 1 else None


def available_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not Linux
        return os.cpu_count() or 1


@contextmanager
def inline():
    """Inside the block, nnlib's parallel helpers run their work on the calling thread: for
    work that is itself one share of a parallel job (see `nnlib.runtime.blocks`). Results are the
    same: they never depend on how the work is split."""
    before = getattr(_local, "inline", False)
    _local.inline = True
    try:
        yield
    finally:
        _local.inline = before


def _inline():
    return getattr(_local, "inline", False)


def _pool():
    from concurrent.futures import ThreadPoolExecutor   # here: `import nnlib` stays quick

    with _lock:
        if _state["pool"] is None:
            if not _state["fork_hook"] and hasattr(os, "register_at_fork"):
                # registered with the first pool, not at import: importing nnlib changes nothing
                os.register_at_fork(after_in_child=_forget_pool_after_fork)
                _state["fork_hook"] = True
            _state["pool"] = ThreadPoolExecutor(get_num_threads() - 1, thread_name_prefix="nnlib")
        return _state["pool"]


def shard_bounds(n, threads=None, align=1):
    """Split range(n) into at most `threads` contiguous (start, stop) shards whose inner bounds
    are multiples of `align`."""
    threads = get_num_threads() if threads is None else threads
    units = -(-n // align)
    parts = max(1, min(threads, units))
    cuts = [min(n, (units * i // parts) * align) for i in range(parts + 1)]
    return [(cuts[i], cuts[i + 1]) for i in range(parts) if cuts[i] < cuts[i + 1]]


def run_sharded(fn, n, align=1):
    """Call fn(start, stop) on the shards of range(n), in parallel; results in shard order.

    The calling thread works on the first shard itself, so one thread costs no hand-off.
    """
    threads = 1 if _inline() else None
    return run_parallel(*(partial(fn, a, b) for a, b in shard_bounds(n, threads, align)))


def run_parallel(*fns):
    """Call the independent no-argument functions `fns` on nnlib's threads (the caller runs
    the first); results in order. With one thread they run one after the other."""
    if get_num_threads() == 1 or len(fns) == 1 or _inline():
        return [f() for f in fns]
    pool = _pool()
    futures = [pool.submit(f) for f in fns[1:]]
    first = fns[0]()
    return [first] + [f.result() for f in futures]


def reduce_groups(fn, n, group):
    """Sum the tuples of arrays fn(start, stop) returns for the consecutive groups of `group`
    rows of range(n), group by group in order. Groups are shared out over nnlib's threads, and
    the rounding of the sum does not depend on how many there are."""
    def shard(a, b):
        return [fn(g, min(g + group, b)) for g in range(a, b, group)]

    parts = [p for ps in run_sharded(shard, n, align=group) for p in ps]
    total = [np.array(t) for t in parts[0]]
    for p in parts[1:]:
        for t, v in zip(total, p):
            t += v
    return total


def reduce_blocks(fn, n, group, block=BLOCK):
    """reduce_groups, summed within each block of `block` rows (its groups in order) and
    returned as one list of sums per block, for the caller to add up in order."""
    def shard(a, b):
        return [fn(g, min(g + group, b)) for g in range(a, b, group)]

    parts = [p for ps in run_sharded(shard, n, align=group) for p in ps]
    per = block // group
    sums = []
    for k in range(0, len(parts), per):
        total = [np.array(t) for t in parts[k]]
        for p in parts[k + 1:k + per]:
            for t, v in zip(total, p):
                t += v
        sums.append(total)
    return sums


def block_bounds(n, block=BLOCK):
    return [(a, min(a + block, n)) for a in range(0, n, block)]



def run_elementwise(fn, x):
    """fn(start, stop) over batch shards of `x` when it is big enough to be worth threads."""
    if x.size < ELEMENTWISE_MIN or x.ndim == 0:
        fn(0, len(x))
    else:
        run_sharded(fn, len(x))
