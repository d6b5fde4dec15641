"""Sizes read from headers are checked before anything is allocated; deep JSON is refused."""
import io
import json
import zipfile

import numpy as np
import pytest

import nnlib as nn


def _model():
    return nn.Sequential([nn.Flatten(), nn.Dense(4, 3, rng=np.random.default_rng(0))])


def _rewrite(path, replace):
    """Rewrite the npz at `path`, passing each (name, bytes) through `replace`."""
    with zipfile.ZipFile(path) as archive:
        entries = [(info.filename, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries:
            archive.writestr(name, replace(name, data))


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _lying_header(name, data):
    if name != "1.W.npy":
        return data
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)})
    return buffer.getvalue() + b"\0" * 48


def test_npz_entry_claiming_a_trillion_floats_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    nn.save(_model(), path)
    _rewrite(path, _lying_header)
    with pytest.raises(ValueError, match=r"m.npz: .*entry 1.W.npy claims 4000000000000 bytes"):
        nn.load(path)


def _architecture(name, data, config):
    if name != "__architecture__.npy":
        return data
    return _npy_bytes(np.array(config))


def test_dense_of_ten_million_squared_is_refused_before_allocating(tmp_path):
    path = tmp_path / "m.npz"
    nn.save(_model(), path)
    config = {"input_shape": None, "layers": [
        {"class": "Flatten", "config": {}},
        {"class": "Dense", "config": {"in_features": 10**7, "out_features": 10**7}}]}
    _rewrite(path, lambda name, data: _architecture(name, data, json.dumps(config)))
    with pytest.raises(ValueError, match="layer 1 takes the architecture past 268,435,456"):
        nn.load(path)


def test_json_nested_100000_deep_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    nn.save(_model(), path)
    deep = "[" * 100000 + "]" * 100000
    _rewrite(path, lambda name, data: _architecture(name, data, deep))
    with pytest.raises(ValueError, match="nested 100000 levels deep"):
        nn.load(path)


def test_normal_model_still_loads(tmp_path):
    path = tmp_path / "m.npz"
    model = _model()
    nn.save(model, path)
    x = np.ones((2, 4), np.float32)
    np.testing.assert_array_equal(nn.load(path).forward(x), model.forward(x))
