"""Save and load models as one .npz: flat dotted weight names, the architecture and metadata as
JSON strings under reserved keys, optional optimizer state. Never pickle: files are read with
allow_pickle=False, written to a temp file and moved into place with os.replace (atomic).

Sizes are read from headers and checked before anything is allocated: every array entry's .npy
header must fit in the bytes its zip entry holds, all entries together in MAX_MODEL_BYTES, the
layers of the architecture in MAX_PARAMETERS, and JSON entries nest at most MAX_JSON_DEPTH deep."""
import json
import os
import re
import struct
import zipfile

import numpy as np

from .atomic import atomic_open
from .init import weights_loaded_next

FORMAT = "nnlib-npz-1"
_RESERVED = ("__format__", "__architecture__", "__metadata__", "__rng__", "__optimizer__")
_OPT_PREFIX = "__optimizer__."
MAX_MODEL_BYTES = 2 * 2**30        # all arrays of one file (a large CNN here is ~10 MB)
MAX_PARAMETERS = 2**28             # weights an architecture may declare (1 GiB of float32)
MAX_JSON_DEPTH = 64                # nesting of the JSON entries (configs are ~4 deep)
_SIZE_KEYS = ("in_features", "out_features", "in_channels", "out_channels", "num_features")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def json_depth(text):
    """Deepest nesting of [ and { in JSON `text`, counted without parsing (strings skipped)."""
    codes = np.frombuffer(_JSON_STRING.sub('""', text).encode("utf-8"), dtype=np.uint8)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int64) - np.isin(codes, (ord("]"), ord("}")))
    return int(steps.cumsum().max(initial=0))


def loads_limited(text, max_depth=MAX_JSON_DEPTH):
    """json.loads, refusing (ValueError) JSON nested deeper than `max_depth` before parsing it."""
    depth = json_depth(text)
    if depth > max_depth:
        raise ValueError(f"JSON nested {depth} levels deep (the limit is {max_depth})")
    return json.loads(text)


def atomic_write(path, write):
    """Call write(binary file object) on a temp file beside `path`, then move it over `path`."""
    with atomic_open(path, "wb") as f:
        write(f)


def save(model, path, metadata=None, optimizer=None):
    """Write `model` (architecture, weights, buffers, layer RNG states) to `path` atomically."""
    arrays = {k: np.asarray(v) for k, v in model.state_dict().items()}
    arrays["__format__"] = np.array(FORMAT)
    arrays["__architecture__"] = np.array(json.dumps(model.get_config()))
    arrays["__metadata__"] = np.array(json.dumps(metadata or {}))
    arrays["__rng__"] = np.array(json.dumps(model.rng_states()))
    if optimizer is not None:
        state = optimizer.state_dict()
        header = {k: v for k, v in state.items() if k != "arrays"}
        arrays["__optimizer__"] = np.array(json.dumps(header))
        arrays.update({_OPT_PREFIX + k: v for k, v in state["arrays"].items()})
    atomic_write(path, lambda f: np.savez(f, **arrays))


# the header np.save writes: "{'descr': '<f4', 'fortran_order': False, 'shape': (32, 1, 5, 5), }"
# padded with spaces to a newline. Parsed here by one pattern: 6 microseconds a header against 37
# for NumPy's reader (ast.literal_eval), 62 headers a member; any other header goes to NumPy.
_NPY_HEADER = re.compile(r"\{'descr': '([<>|=]?[A-Za-z]\d*)', 'fortran_order': (True|False), "
                         r"'shape': \(((?:\d+, )*\d+,?|)\), \} *\n")
_HEADER_LENGTH = {(1, 0): "<H", (2, 0): "<I", (3, 0): "<I"}


def read_npy_header(f):
    """(shape, fortran_order, dtype) of the .npy file whose bytes `f` (a binary file object)
    starts at; `f` is left where the array's data begins. ValueError or EOFError when it is
    not a .npy header."""
    return _read_header(f, np.lib.format.read_magic(f))


def _read_header(f, version):
    """(shape, fortran_order, dtype) of the .npy header that follows the magic bytes in `f`."""
    start = f.tell()
    size_format = _HEADER_LENGTH.get(version)
    if size_format is not None:
        size = struct.calcsize(size_format)
        raw = f.read(size)
        if len(raw) != size:
            raise EOFError("header ends early")
        text = f.read(struct.unpack(size_format, raw)[0])
        match = _NPY_HEADER.fullmatch(text.decode("latin-1"))
        if match:
            shape = tuple(int(n) for n in match[3].replace(",", " ").split())
            return shape, match[2] == "True", np.dtype(match[1])
    f.seek(start)
    read = {(1, 0): np.lib.format.read_array_header_1_0}.get(
        version, np.lib.format.read_array_header_2_0)
    return read(f)


def _read_entry(archive, info, budget):
    """The array of one .npy entry. Its header is checked against the bytes the entry holds and
    against `budget` bytes before anything is allocated; object (pickled) arrays are refused."""
    with archive.open(info) as f:
        shape, fortran, dtype = read_npy_header(f)
        if dtype.hasobject:
            raise ValueError(f"entry {info.filename} holds Python objects (pickle); refused")
        declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
        holds = info.file_size - f.tell()
        if declared > holds:
            raise ValueError(f"entry {info.filename} claims {declared} bytes {tuple(shape)} but "
                             f"holds {holds}")
        if declared > budget:
            raise ValueError(f"arrays larger than {MAX_MODEL_BYTES // 2**30} GiB refused")
        data = bytearray(declared)
        if f.readinto(data) != declared:
            raise EOFError(f"entry {info.filename} ends early")
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C"), declared


def _without_optimizer(key):
    return not key.startswith(_OPT_PREFIX)


def _read(path, keep=None):
    """The archive's arrays (those whose name `keep` accepts, when given), each header read once
    and checked before its array is allocated."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such model file")
    arrays, budget = {}, MAX_MODEL_BYTES
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename.removesuffix(".npy")
                if name == info.filename:
                    raise ValueError(f"entry {info.filename} is not a .npy array")
                if keep is None or keep(name):
                    arrays[name], size = _read_entry(archive, info, budget)
                    budget -= size
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError, AttributeError,
            SyntaxError, TypeError) as e:
        raise ValueError(f"{path}: not a readable nnlib model file ({e})") from None
    return arrays


def _json(arrays, key, path):
    try:
        return loads_limited(str(arrays[key][()]))
    except (KeyError, ValueError, TypeError) as e:
        raise ValueError(f"{path}: missing or corrupt {key} entry ({e})") from None


def load_with_metadata(path):
    """Return (model, metadata dict). Raises ValueError naming the file on any problem."""
    from .model import Sequential
    arrays = _read(path, _without_optimizer)
    if "__format__" not in arrays or str(arrays["__format__"][()]) != FORMAT:
        raise ValueError(f"{path}: not an nnlib model file (no {FORMAT!r} format marker)")
    try:
        config = _json(arrays, "__architecture__", path)
        check_config_size(config)
        with weights_loaded_next():   # load_state_dict (strict) sets every weight below
            model = Sequential.from_config(config)
        weights = {k: v for k, v in arrays.items() if k not in _RESERVED and not k.startswith(_OPT_PREFIX)}
        model.load_state_dict(weights, strict=True)
        model.set_rng_states(_json(arrays, "__rng__", path))
    except (ValueError, TypeError, KeyError, IndexError) as e:
        raise ValueError(f"{path}: {e}") from None
    return model, _json(arrays, "__metadata__", path)


def _layer_parameters(config):
    """Weights a layer config declares: the product of its size arguments (kernel area for
    convolutions); ValueError for a size that is not a positive integer."""
    count = 1
    for key in _SIZE_KEYS:
        if key in config:
            value = config[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive integer (received: {value!r})")
            count *= value
    kernel = config.get("kernel_size", 1)
    if "in_channels" in config and isinstance(kernel, int) and not isinstance(kernel, bool):
        count *= kernel * kernel
    elif "in_channels" in config and isinstance(kernel, list) and len(kernel) == 2:
        count *= int(np.prod([k for k in kernel if isinstance(k, int) and k > 0]))
    return count


def check_config_size(config):
    """Refuse (ValueError) an architecture declaring more than MAX_PARAMETERS weights, before
    any layer allocates them."""
    try:
        layers = [spec["config"] for spec in config["layers"]]
    except (TypeError, KeyError) as e:
        raise ValueError(f"malformed architecture ({type(e).__name__}: {e})") from None
    total = 0
    for index, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise ValueError(f"layer {index}: config is not an object")
        total += _layer_parameters(layer)
        if total > MAX_PARAMETERS:
            raise ValueError(f"layer {index} takes the architecture past {MAX_PARAMETERS:,} "
                             f"weights (the limit)")


def load(path):
    """Load a model saved by `save`."""
    return load_with_metadata(path)[0]


def load_optimizer_state(path):
    """The optimizer state_dict saved with the model, or None."""
    arrays = _read(path)
    if "__optimizer__" not in arrays:
        return None
    state = _json(arrays, "__optimizer__", path)
    state["arrays"] = {k[len(_OPT_PREFIX):]: v for k, v in arrays.items() if k.startswith(_OPT_PREFIX)}
    return state


def load_weights(model, path):
    """Load weights, buffers and RNG states of `path` into `model` in place (strict)."""
    arrays = _read(path, _without_optimizer)
    weights = {k: v for k, v in arrays.items() if k not in _RESERVED and not k.startswith(_OPT_PREFIX)}
    try:
        model.load_state_dict(weights, strict=True)
        model.set_rng_states(_json(arrays, "__rng__", path))
    except (ValueError, KeyError, IndexError) as e:
        raise ValueError(f"{path}: {e}") from None
    return _json(arrays, "__metadata__", path)
