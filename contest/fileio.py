"""Atomic file writing and hashing shared by every module that writes results.

A reader never sees a half-written submission, probability file or manifest: data goes to a
temporary file in the destination directory, which then replaces the target in one `os.replace`.
"""
import hashlib
import json

import numpy as np
from nnlib.atomic import atomic_open

__all__ = ["atomic_open", "write_text", "write_json", "write_npy", "sha256_file", "read_json"]


def write_text(path, text, fsync=True):
    with atomic_open(path, "w", fsync=fsync, encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def write_json(path, obj, fsync=True):
    write_text(path, json.dumps(obj, indent=2) + "\n", fsync=fsync)


def write_npy(path, array):
    """Save `array` as .npy atomically (np.save on a file object does not add a suffix)."""
    with atomic_open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def sha256_file(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path):
    """A JSON file, size and nesting limited; ContestInputError (one line) if unreadable."""
    from contest.modeldir.manifest import load_json

    return load_json(path)
