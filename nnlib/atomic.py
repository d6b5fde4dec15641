"""Atomic file writing: a reader never sees a half-written file.

Data goes to a temporary file in the destination directory, which then replaces the target in
one `os.replace`; on any error the temporary file vanishes and the target is left untouched.
The file gets the mode a plain `open` would give it (0o666 less the umask); the umask is read
without changing it, so this is safe with threads and has no effect at import.
"""
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def current_umask(directory="."):
    """The process umask, read without setting it: from /proc/self/status on Linux, otherwise
    from the mode a probe file in `directory` gets (os.umask would have to change it to read it,
    which races with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _probed_umask(directory)


def _probed_umask(directory):
    # a fresh name, created with O_EXCL: never an existing file (mkstemp would force mode 0600)
    probe = tempfile.mktemp(prefix=".umask-probe.", dir=directory)
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o777)
    try:
        return 0o777 & ~os.fstat(fd).st_mode
    finally:
        os.close(fd)
        os.unlink(probe)


@contextmanager
def atomic_open(path, mode="w", fsync=True, **kwargs):
    """Open a temporary file beside `path`; on success it replaces `path`, on error it vanishes.

    fsync=False skips the flush to disk, for small files rewritten often (progress reports).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes 0600 files; give the usual umask-based mode
        os.chmod(tmp, 0o666 & ~current_umask(path.parent))
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
