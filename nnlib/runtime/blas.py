"""BLAS threads of the OpenBLAS that NumPy loaded: nnlib holds them at one while its passes run
(`one_blas_thread`), so its numbers never depend on them.

Found through ctypes, with the standard library only: the library is looked up among the files
this process has mapped (Linux `/proc/self/maps`) and its thread functions among the names
OpenBLAS builds export (`openblas_set_num_threads`, or the prefixed and suffixed names of the
`scipy-openblas` builds NumPy wheels ship, e.g. `scipy_openblas_set_num_threads64_`). Where none
is found (another BLAS, another OS), the count is unknown (None).
"""
import ctypes
import threading
from contextlib import contextmanager

_NAMES = [(f"{prefix}openblas_set_num_threads{suffix}", f"{prefix}openblas_get_num_threads{suffix}")
          for prefix in ("scipy_", "") for suffix in ("64_", "_64_", "")]
_state = {"looked": False, "set": None, "get": None, "holds": 0, "before": None}
_lock = threading.Lock()


def _mapped_openblas():
    """Paths of the OpenBLAS libraries this process has mapped."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return []
    return sorted(p for p in paths if p.startswith("/"))


def _functions():
    """(set_num_threads, get_num_threads) of the OpenBLAS NumPy uses, or (None, None)."""
    if not _state["looked"]:
        import numpy  # noqa: F401  (loads the BLAS first)
        _state["looked"] = True
        for path in _mapped_openblas():
            try:
                library = ctypes.CDLL(path)
            except OSError:
                continue
            for set_name, get_name in _NAMES:
                if hasattr(library, set_name) and hasattr(library, get_name):
                    setter, getter = getattr(library, set_name), getattr(library, get_name)
                    setter.argtypes, setter.restype, getter.restype = [ctypes.c_int], None, ctypes.c_int
                    _state["set"], _state["get"] = setter, getter
                    return setter, getter
    return _state["set"], _state["get"]


def blas_threads():
    """The BLAS's current thread count, or None when nnlib cannot see it."""
    _, getter = _functions()
    return None if getter is None else int(getter())


def set_blas_threads(n):
    """Set the BLAS's thread count (no-op when nnlib cannot reach it)."""
    setter, _ = _functions()
    if setter is not None:
        setter(int(n))


@contextmanager
def one_blas_thread():
    """BLAS at one thread inside the block (nested and concurrent blocks allowed), restored to
    what it was when the outermost block ends.

    nnlib's passes run inside it: OpenBLAS's threaded sgemm rounds differently from its
    one-thread sgemm, so holding it makes nnlib's numbers independent of the BLAS thread count
    (and of the machine's cores), and nnlib's own threads then use the cores without
    oversubscribing them."""
    setter, getter = _functions()
    if setter is None:
        yield
        return
    with _lock:
        if _state["holds"] == 0:
            _state["before"] = int(getter())
            if _state["before"] != 1:
                setter(1)
        _state["holds"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["holds"] -= 1
            if _state["holds"] == 0 and _state["before"] not in (None, 1):
                setter(_state["before"])
