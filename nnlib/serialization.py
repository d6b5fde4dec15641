"""Save and load models as one .npz: flat dotted weight names, the architecture and metadata as
JSON strings under reserved keys, optional optimizer state. Never pickle: files are read with
allow_pickle=False, written to a temp file and moved into place with os.replace (atomic).

Sizes are read from headers and checked before anything is allocated: every array entry's .npy
header must fit in the bytes its zip entry holds, all entries together in MAX_MODEL_BYTES, the
layers of the architecture in MAX_PARAMETERS, and JSON entries nest at most MAX_JSON_DEPTH deep."""
import json
import os
import re
import zipfile

import numpy as np

from .atomic import atomic_open

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


def _entry_bytes(archive, info):
    """Data bytes an npz entry's .npy header declares, checked against what the entry holds."""
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        header = f.tell()
    declared = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    if header + declared > info.file_size:
        raise ValueError(f"entry {info.filename} claims {declared} bytes {tuple(shape)} but holds "
                         f"{info.file_size - header}")
    return declared


def _check_sizes(path, keep=None):
    """Refuse an archive whose headers (of the entries `keep` accepts, those that will be read)
    claim more than they hold or than MAX_MODEL_BYTES."""
    with zipfile.ZipFile(path) as archive:
        total = 0
        for info in archive.infolist():
            if keep is not None and not keep(info.filename.removesuffix(".npy")):
                continue
            total += _entry_bytes(archive, info)
            if total > MAX_MODEL_BYTES:
                raise ValueError(f"arrays larger than {MAX_MODEL_BYTES // 2**30} GiB refused")


def _without_optimizer(key):
    return not key.startswith(_OPT_PREFIX)


def _read(path, keep=None):
    """The archive's arrays (those whose name `keep` accepts, when given)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such model file")
    try:
        _check_sizes(path, keep)
        with open(path, "rb") as f:
            data = np.load(f, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("not an npz archive")
            with data:
                return {k: data[k] for k in data.files if keep is None or keep(k)}
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError, AttributeError,
            SyntaxError) as e:
        raise ValueError(f"{path}: not a readable nnlib model file ({e})") from None


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
