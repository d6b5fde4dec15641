"""Memory setting for fast training: keep freed large blocks in the heap (glibc only).

A training step allocates and frees tens of MB of temporaries; glibc returns blocks above its
mmap threshold to the kernel at once, so every step page-faults them in again (measured: im2col
of arch A's second convolution 12 ms -> 4 ms once blocks are reused). `retain_freed_memory()`
raises the mmap and trim thresholds so they stay in the heap.

This changes how malloc behaves for the whole process (its heap no longer shrinks after a big
step), so nnlib never calls it itself: an application that trains or predicts with nnlib calls
`nnlib.retain_freed_memory()` once, before it starts. Without it results are the same, only
slower. Off glibc it does nothing.
"""
import ctypes

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_state = {"done": False}


def retain_freed_memory():
    """Keep freed large blocks in the process heap (glibc's mallopt); idempotent, a no-op off
    glibc. Returns whether the setting is in force."""
    if _state["done"]:
        return True
    try:
        libc = ctypes.CDLL(None)   # the running process: libc is linked in
        mmap_set = libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)
        ok = libc.mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1) and mmap_set
    except (OSError, AttributeError):
        ok = False
    _state["done"] = bool(ok)
    return _state["done"]
