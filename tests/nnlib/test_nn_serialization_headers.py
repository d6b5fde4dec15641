"""The .npy headers of a model file are parsed once, by a pattern for the headers np.save writes,
and any other header by NumPy; both must give NumPy's reading."""
import io
import zipfile

import numpy as np
import pytest

import nnlib as nn
from nnlib import serialization
from nnlib.init import initial_weights, weights_loaded_next

ARRAYS = [np.float32(1.5), np.arange(3, dtype=np.int64), np.ones((2, 3), dtype=">f8"),
          np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)), np.array("nnlib"),
          np.zeros((0, 4), dtype=np.float32), np.array([True, False]),
          np.zeros((1, 1, 1, 1, 1), dtype=np.uint8)]


def _npz(tmp_path, arrays, version=None):
    path = tmp_path / "a.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for i, array in enumerate(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, version=version, allow_pickle=False)
            archive.writestr(f"{i}.npy", buffer.getvalue())
    return path


@pytest.mark.parametrize("version", [None, (1, 0), (2, 0)])
def test_arrays_read_as_numpy_reads_them(tmp_path, version):
    path = _npz(tmp_path, ARRAYS, version)
    read = serialization._read(path)
    with np.load(path, allow_pickle=False) as expected:
        for name, array in read.items():
            assert array.dtype == expected[name].dtype
            assert array.flags.f_contiguous == expected[name].flags.f_contiguous
            np.testing.assert_array_equal(array, expected[name])


def test_header_outside_the_pattern_goes_to_numpy(tmp_path):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(   # keys in another order than np.save writes them
        buffer, {"shape": (2,), "fortran_order": False, "descr": "<i2"})
    path = tmp_path / "a.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", buffer.getvalue().replace(b"'shape': (2,), ", b"")
                         .replace(b"{", b"{'shape': (2,), ") + b"\x01\x00\x02\x00")
    np.testing.assert_array_equal(serialization._read(path)["x"], [1, 2])


def test_entry_that_is_not_an_array_is_refused(tmp_path):
    path = tmp_path / "a.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", b"hello")
    with pytest.raises(ValueError, match="a.npz: .*entry notes.txt is not a .npy array"):
        serialization._read(path)


def test_weights_loaded_next_draws_nothing():
    rng = np.random.default_rng(3)
    with weights_loaded_next():
        w = initial_weights((4, 5), 4, 5, "he", rng, np.float32)
    assert w.dtype == np.float32 and not w.any()
    assert rng.random() == np.random.default_rng(3).random()   # the generator did not move
    assert initial_weights((4, 5), 4, 5, "he", rng, np.float32).any()   # drawn again outside


def test_loaded_model_equals_saved_one(tmp_path):
    rng = np.random.default_rng(0)
    model = nn.Sequential([nn.Conv2D(1, 4, 3, padding=1, rng=rng), nn.BatchNorm(4), nn.ReLU(),
                           nn.Flatten(), nn.Dense(4 * 6 * 6, 3, rng=rng),
                           nn.Dropout(0.5, rng=rng)], input_shape=(1, 6, 6))
    model.forward(rng.standard_normal((2, 1, 6, 6)).astype(np.float32), training=True)
    nn.save(model, tmp_path / "m.npz")
    loaded = nn.load(tmp_path / "m.npz")
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], value)
    assert loaded.rng_states() == model.rng_states()
