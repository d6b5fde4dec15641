"""Save and load models as one .npz: flat dotted weight names, the architecture and metadata as
JSON strings under reserved keys, optional optimizer state. Never pickle: files are read with
allow_pickle=False, written to a temp file and moved into place with os.replace (atomic)."""
import json
import os
import zipfile

import numpy as np

from .atomic import atomic_open

FORMAT = "nnlib-npz-1"
_RESERVED = ("__format__", "__architecture__", "__metadata__", "__rng__", "__optimizer__")
_OPT_PREFIX = "__optimizer__."


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


def _read(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such model file")
    try:
        with open(path, "rb") as f:
            data = np.load(f, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("not an npz archive")
            with data:
                return {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError, AttributeError) as e:
        raise ValueError(f"{path}: not a readable nnlib model file ({e})") from None


def _json(arrays, key, path):
    try:
        return json.loads(str(arrays[key][()]))
    except (KeyError, ValueError, TypeError) as e:
        raise ValueError(f"{path}: missing or corrupt {key} entry ({e})") from None


def load_with_metadata(path):
    """Return (model, metadata dict). Raises ValueError naming the file on any problem."""
    from .model import Sequential
    arrays = _read(path)
    if "__format__" not in arrays or str(arrays["__format__"][()]) != FORMAT:
        raise ValueError(f"{path}: not an nnlib model file (no {FORMAT!r} format marker)")
    try:
        model = Sequential.from_config(_json(arrays, "__architecture__", path))
        weights = {k: v for k, v in arrays.items() if k not in _RESERVED and not k.startswith(_OPT_PREFIX)}
        model.load_state_dict(weights, strict=True)
        model.set_rng_states(_json(arrays, "__rng__", path))
    except (ValueError, TypeError, KeyError, IndexError) as e:
        raise ValueError(f"{path}: {e}") from None
    return model, _json(arrays, "__metadata__", path)


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
    arrays = _read(path)
    weights = {k: v for k, v in arrays.items() if k not in _RESERVED and not k.startswith(_OPT_PREFIX)}
    try:
        model.load_state_dict(weights, strict=True)
        model.set_rng_states(_json(arrays, "__rng__", path))
    except (ValueError, KeyError, IndexError) as e:
        raise ValueError(f"{path}: {e}") from None
    return _json(arrays, "__metadata__", path)
