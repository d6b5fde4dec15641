"""Keep freed large blocks in the heap (glibc only).

A training step allocates and frees tens of MB of temporaries; glibc returns blocks above its
mmap threshold to the kernel at once, so every step page-faults them in again (measured: im2col
of arch A's second convolution 12 ms -> 4 ms once blocks are reused). Raising the mmap and trim
thresholds keeps them in the heap. Process-wide and harmless elsewhere: a no-op off glibc.
"""
import ctypes

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_done = False


def retain_freed_memory():
    global _done
    if _done:
        return
    _done = True
    try:
        libc = ctypes.CDLL(None)   # the running process: libc is linked in
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)
        libc.mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1)
    except (OSError, AttributeError):
        pass
