"""Atomic file writing: a reader never sees a half-written file.

Data goes to a temporary file in the destination directory, which then replaces the target in
one `os.replace`; on any error the temporary file vanishes and the target is left untouched.
"""
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _file_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


@contextmanager
def atomic_open(path, mode="w", fsync=True, **kwargs):
    """Open a temporary file beside `path`; on success it replaces `path`, on error it vanishes.

    fsync=False skips the flush to disk, for small files rewritten often (progress reports).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600 files; give the usual umask-based mode
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
