"""CIFAR-10 in the form most people download it, `cifar-10-batches-py`: data_batch_1..5 and
test_batch, Python pickles of a dict {b"data": uint8 (N, 3072) array (1,024 red, 1,024 green,
1,024 blue bytes per image, row by row), b"labels": [int], ...}, and batches.meta with
b"label_names".

They are read by a restricted unpickler that can build plain containers (dict, list, tuple,
bytes, str, numbers) and NumPy arrays of plain numeric dtypes, and nothing else: any other
global a pickle names (os.system, builtins.eval, a class of some module...) is refused before
anything is called, with a one-line ContestInputError. Nothing else in contest loads pickle.
"""
import codecs
import io
import pickle
from pathlib import Path

import numpy as np

from contest.errors import ContestInputError

PY_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
PY_TEST, PY_META = "test_batch", "batches.meta"
MAX_PICKLE_BYTES = 256 << 20   # a CIFAR batch is 31 MB


class RefusedPickle(Exception):
    pass


def _numeric_dtype(*args):
    dtype = np.dtype(*args)
    if dtype.hasobject or dtype.kind not in "biuf":
        raise RefusedPickle(f"an array of dtype {dtype} (only plain numbers are read)")
    return dtype


def _latin1(text, encoding="latin1"):
    """How Python 3 pickles (protocol 2) store bytes: _codecs.encode(str, 'latin1'), no other
    codec."""
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise RefusedPickle(f"_codecs.encode with {encoding!r}")
    return text.encode("latin1")


def _reconstruct(subtype, shape, dtype):
    if subtype is not np.ndarray:
        raise RefusedPickle("an array subclass")
    return np.ndarray.__new__(np.ndarray, shape, _numeric_dtype(dtype))


ALLOWED = {("numpy.core.multiarray", "_reconstruct"): _reconstruct,
           ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
           ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): _numeric_dtype,
           ("_codecs", "encode"): _latin1}


class PlainDataUnpickler(pickle.Unpickler):
    """pickle.Unpickler that finds only the globals of ALLOWED (NumPy arrays, bytes)."""

    def find_class(self, module, name):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise RefusedPickle(f"it names {module}.{name}") from None


def load_plain_pickle(path):
    """The object pickled in `path`, refusing (ContestInputError, nothing run) any pickle that is
    not plain data; Python 2 strings come back as bytes, as the CIFAR files expect."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_PICKLE_BYTES:
            raise ContestInputError(path, f"larger than {MAX_PICKLE_BYTES >> 20} MB: not a "
                                          f"CIFAR-10 batch")
        raw = path.read_bytes()
        return PlainDataUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except RefusedPickle as exc:
        raise ContestInputError(path, f"refused: a pickle of plain data was expected, but {exc} "
                                      f"(nothing was run)") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, OverflowError, MemoryError) as exc:
        raise ContestInputError(path, f"not a readable pickle ({type(exc).__name__})") from None
    except OSError as exc:
        raise ContestInputError(path, f"cannot read ({exc.strerror or exc})") from None


def _field(batch, name, path):
    if not isinstance(batch, dict):
        raise ContestInputError(path, "not a CIFAR-10 batch (a dict was expected)")
    value = batch.get(name.encode(), batch.get(name))
    if value is None:
        raise ContestInputError(path, f"not a CIFAR-10 batch (no {name!r} entry)")
    return value


def read_python_batch(path):
    """(images uint8 (N, 32, 32, 3), labels int64 (N,)) of one cifar-10-batches-py file."""
    batch = load_plain_pickle(path)
    data, labels = _field(batch, "data", path), _field(batch, "labels", path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or \
            data.shape[1] != 3 * 32 * 32:
        raise ContestInputError(path, "'data' is not a uint8 (N, 3072) array")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        raise ContestInputError(path, "'labels' is not a list of integers") from None
    if labels.shape != (len(data),):
        raise ContestInputError(path, f"{len(labels)} labels for {len(data)} images")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def read_python_names(directory):
    """Class names from batches.meta (b"label_names"), or None when absent."""
    path = Path(directory) / PY_META
    if not path.is_file():
        return None
    names = _field(load_plain_pickle(path), "label_names", path)
    if not isinstance(names, list) or not all(isinstance(n, (bytes, str)) for n in names):
        raise ContestInputError(path, "'label_names' is not a list of names")
    return tuple(n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names)


def python_batch_files(directory, split):
    """The batch files of `split` present in a cifar-10-batches-py directory."""
    names = (PY_TEST,) if split == "test" else PY_TRAIN
    files = [Path(directory) / name for name in names if (Path(directory) / name).is_file()]
    if not files:
        raise ContestInputError(directory, f"no CIFAR-10 {' or '.join(names[:1])}"
                                           f"{'...' if len(names) > 1 else ''} in this directory")
    return files
