"""MNIST-format datasets: IDX parsing, checksum verification, train/validation/test splits.

Images come back as uint8 arrays of shape (N, 28, 28) with values 0-255 and labels as int64 (N,).
The bundled MNIST copy (package data, so everything works offline) is verified against the md5 of
the original release's decompressed bytes; any other directory of IDX files (Fashion-MNIST, ...)
is chosen with `--data-dir` or the CONTEST_DATA_DIR environment variable and only parsed strictly.
Each file is read, decompressed and hashed at most once per process, and only when needed, so
`contest predict-one` touches the small test files only.
"""
import functools
import gzip
import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from contest.errors import ContestInputError

BUNDLED_DIR = Path(__file__).resolve().parent / "mnist"
ENV_VAR = "CONTEST_DATA_DIR"
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# md5 of the decompressed files of the original MNIST release (the .gz wrappers are re-compressed).
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


def resolve_data_dir(data_dir=None):
    """The directory to read: `data_dir`, else $CONTEST_DATA_DIR, else the bundled MNIST copy."""
    if data_dir is None or str(data_dir) == "":
        data_dir = os.environ.get(ENV_VAR) or None
    if data_dir is None:
        return BUNDLED_DIR
    path = Path(data_dir).expanduser().resolve()
    if not path.exists():
        raise ContestInputError(path, "data directory not found")
    if not path.is_dir():
        raise ContestInputError(path, "data directory is not a directory")
    return path


def is_bundled(data_dir):
    return Path(data_dir).resolve() == BUNDLED_DIR


def find_file(data_dir, stem):
    """The IDX file `stem` in `data_dir`, gzip-compressed or not."""
    for name in (stem + ".gz", stem):
        path = Path(data_dir) / name
        if path.is_file():
            return path
    raise ContestInputError(Path(data_dir) / (stem + ".gz"), f"IDX file {stem}[.gz] not found")


@functools.lru_cache(maxsize=8)
def _read_bytes(path_str, size, mtime_ns):
    """Decompressed content and its md5; cached per process (keyed on size and mtime too)."""
    data = Path(path_str).read_bytes()
    if path_str.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ContestInputError(path_str, f"corrupt or truncated gzip file ({exc})") from None
    return data, hashlib.md5(data).hexdigest()


def read_raw(path):
    """(decompressed bytes, md5 hex digest) of an IDX file, .gz or plain."""
    stat = Path(path).stat()
    return _read_bytes(str(path), stat.st_size, stat.st_mtime_ns)


def parse_idx(data, path="<bytes>"):
    """An IDX byte string as a read-only ndarray of the dimensions its header declares."""
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _IDX_DTYPES:
        raise ContestInputError(path, "not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ContestInputError(path, "truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ContestInputError(path, f"IDX size mismatch: {len(data)} bytes, "
                                      f"header says {expected}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


def read_idx(path, expected_md5=None):
    data, md5 = read_raw(path)
    if expected_md5 is not None and md5 != expected_md5:
        raise ContestInputError(path, f"checksum mismatch: md5 of the decompressed data is {md5}, "
                                      f"expected {expected_md5} (corrupt or modified file)")
    return parse_idx(data, path)


def load_split(kind, data_dir=None):
    """(images uint8 (N, 28, 28), labels int64 (N,)) of the "train" or "test" files."""
    if kind not in FILES:
        raise ValueError(f"kind must be 'train' or 'test'; received: kind={kind!r}")
    directory = resolve_data_dir(data_dir)
    verify = is_bundled(directory)
    arrays = []
    for stem in FILES[kind]:
        arrays.append(read_idx(find_file(directory, stem), MNIST_MD5[stem] if verify else None))
    images, labels = arrays
    _check_pair(images, labels, find_file(directory, FILES[kind][0]))
    return images, labels.astype(np.int64)


def _check_pair(images, labels, path):
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE or images.dtype != np.uint8:
        raise ContestInputError(path, f"expected uint8 images of shape (N, 28, 28), got "
                                      f"{images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ContestInputError(path, f"{len(images)} images but labels of shape {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ContestInputError(path, "labels outside 0-9 in the label file")


def fingerprint(kind, data_dir=None):
    """Where a split comes from and the md5s of its decompressed files (for manifests)."""
    directory = resolve_data_dir(data_dir)
    md5s = {stem: read_raw(find_file(directory, stem))[1] for stem in FILES[kind]}
    return {"dir": None if is_bundled(directory) else str(directory), "md5": md5s}


def train_validation_split(images, labels, validation_size, limit=None):
    """((x_train, y_train), (x_val, y_val)): the last `validation_size` of the first `limit` images.

    The validation split is carved from the training set, so the test set is never used for choices.
    """
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    n = len(images)
    if not 0 < validation_size < n:
        raise ValueError(f"validation_size must be in 1..{n - 1}; received: {validation_size}")
    cut = n - validation_size
    return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])


def validation_size_for(n_images, preset_size):
    """The preset's validation size, shrunk to a tenth of the images for quick small runs."""
    return max(1, min(preset_size, n_images // 10))
