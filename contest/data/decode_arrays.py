"""Binary array forms of contest.data.decode: .npy, .npz and IDX (MNIST's, gzip or not).

Each header is read and checked before the array is allocated: every dimension a non-negative
integer, at most MAX_DIMS of them, a plain numeric dtype (no object/pickle, void, structured or
subarray dtypes), and the declared size within the input's bytes and `Limits.max_bytes`. The data
are then read straight into the allocated array, from memory or from the open file.
"""
import gzip
import struct
import zipfile
import zlib

import numpy as np

from contest.errors import ContestInputError

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"
MAX_DIMS = 5
NPZ_KEYS = ("x", "images", "x_test", "X", "x_train")
IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_HEADER_ERRORS = (ValueError, OSError, EOFError, SyntaxError, TypeError, OverflowError,
                  UnicodeDecodeError, MemoryError, RecursionError)


def check_header(shape, dtype, source, limits, available, kind=".npy"):
    """The data size in bytes of an array header, refused unless sane (see module docstring)."""
    if not isinstance(shape, tuple) or len(shape) > MAX_DIMS or \
            any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in shape):
        raise ContestInputError(source, f"bad array header: shape {shape!r} (expected at most "
                                        f"{MAX_DIMS} non-negative dimensions)")
    if dtype.hasobject:
        raise ContestInputError(source, "object (pickled) array refused; send a numeric array")
    if dtype.shape != () or dtype.fields is not None or dtype.kind not in "uifb" or \
            dtype.itemsize == 0:
        raise ContestInputError(source, f"non-numeric dtype {dtype}; expected integers 0..255 "
                                        "or floats 0..1")
    count = int(np.prod(shape, dtype=object)) * dtype.itemsize   # Python ints: no overflow
    limits.check_bytes(count, source, f"array {shape}")
    if count > available:
        raise ContestInputError(source, f"truncated {kind} data: {available} bytes, the header "
                                        f"needs {count}")
    return count


def read_into(stream, shape, dtype, fortran, source):
    """The array declared by a checked header, read from `stream` into its own memory."""
    array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    view = memoryview(array.reshape(-1, order="A").view(np.uint8)) if array.size else b""
    got = 0
    while got < len(view):
        count = stream.readinto(view[got:])
        if not count:
            raise ContestInputError(source, f"truncated array data: {got} of {len(view)} bytes")
        got += count
    return array


def read_npy(payload, limits):
    """The numeric array of an .npy input."""
    from nnlib.serialization import read_npy_header

    stream, source = payload.stream, payload.source
    start = stream.tell()
    if payload.head(len(NPY_MAGIC)) != NPY_MAGIC:
        raise ContestInputError(source, "not a valid .npy file (no NUMPY magic bytes)")
    try:
        shape, fortran, dtype = read_npy_header(stream)
        dtype = np.dtype(dtype)
    except _HEADER_ERRORS as exc:
        raise ContestInputError(source, f"not a valid .npy file ({_first_line(exc)})") from None
    check_header(shape, dtype, source, limits, payload.size - (stream.tell() - start))
    return read_into(stream, shape, dtype, fortran, source)


def read_npz(payload, limits):
    """The image array of an .npz input: its only array, or the one named x, images, x_test..."""
    source = payload.source
    try:
        with zipfile.ZipFile(payload.stream) as archive:
            entries = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
            key = next((k for k in NPZ_KEYS if k in entries), None)
            if key is None and len(entries) == 1:
                key = next(iter(entries))
            if key is None:
                raise ContestInputError(source, f"expected an array named {' or '.join(NPZ_KEYS)}"
                                                f" (or a single array); found "
                                                f"{', '.join(sorted(entries)) or 'none'}")
            return _read_npz_entry(archive, entries[key], source, limits)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, ContestInputError):
            raise
        raise ContestInputError(source, f"unreadable .npz file ({_first_line(exc)})") from None


def _read_npz_entry(archive, info, source, limits):
    from nnlib.serialization import read_npy_header

    with archive.open(info) as stream:
        try:
            shape, fortran, dtype = read_npy_header(stream)
            dtype = np.dtype(dtype)
        except _HEADER_ERRORS as exc:
            raise ContestInputError(source, f"entry {info.filename}: not a valid .npy array "
                                            f"({_first_line(exc)})") from None
        check_header(shape, dtype, source, limits, info.file_size - stream.tell())
        return read_into(stream, shape, dtype, fortran, source)


def read_idx(payload, limits):
    """The array of an IDX input (MNIST's format), gzip-compressed or not."""
    stream, source = payload.stream, payload.source
    available = payload.size
    if payload.head(2) == GZIP_MAGIC:
        stream, available = gzip.GzipFile(fileobj=stream, mode="rb"), None
    try:
        magic = stream.read(4)
        if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] not in IDX_DTYPES:
            raise ContestInputError(source, "not an IDX file (bad magic number)")
        raw = stream.read(4 * magic[3])
        if len(raw) != 4 * magic[3]:
            raise ContestInputError(source, "truncated IDX header")
        shape = struct.unpack(f">{magic[3]}I", raw)
        dtype = np.dtype(IDX_DTYPES[magic[2]])
        room = limits.max_bytes if available is None else available - 4 - len(raw)
        check_header(shape, dtype, source, limits, room, "IDX")
        return read_into(stream, shape, dtype, False, source)
    except (OSError, EOFError, zlib.error) as exc:
        raise ContestInputError(source, f"corrupt or truncated IDX/gzip data "
                                        f"({_first_line(exc)})") from None


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
