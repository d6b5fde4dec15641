"""Giving memory back: a server process keeps freed blocks in its heap for prediction speed
(nnlib's retain_freed_memory), so after a large request it would keep that request's peak for
good, one heap per thread. `trim_heap` returns the free part to the system (glibc malloc_trim,
run after the last large request in flight ends); `limit_arenas` caps the heaps at a few. Both
are no-ops off glibc."""
import ctypes

_M_ARENA_MAX = -8


def _libc():
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def limit_arenas(count=2):
    """At most `count` malloc arenas in this process (threads share them)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(_M_ARENA_MAX, count)


def trim_heap():
    """Return the heap's free memory to the system (ctypes releases the GIL meanwhile)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
