"""Giving memory back: a server process keeps freed blocks in its heap for prediction speed
(nnlib's retain_freed_memory), so after a large request it would keep that request's peak for
good, one heap per thread. `trim_heap` returns the free part to the system (glibc malloc_trim,
run after the last large request in flight ends); `limit_arenas` caps the heaps at a few. Both
are no-ops off glibc. `resident_bytes` is what a server process reports to the parent once idle
(contest.serve.balancer replaces a process whose idle memory has grown)."""
import ctypes
import os

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


def resident_bytes():
    """This process's resident memory in bytes (Linux's /proc), None where it cannot be read."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
