"""Atomic file writing and hashing shared by every module that writes results.

A reader never sees a half-written submission, probability file or manifest: data goes to a
temporary file in the destination directory, which then replaces the target in one `os.replace`.
"""
import hashlib
import json
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


def write_text(path, text, fsync=True):
    with atomic_open(path, "w", fsync=fsync, encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def write_json(path, obj, fsync=True):
    write_text(path, json.dumps(obj, indent=2) + "\n", fsync=fsync)


def write_npy(path, array):
    """Save `array` as .npy atomically (np.save on a file object does not add a suffix)."""
    import numpy as np

    with atomic_open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def sha256_file(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
