"""nn.save / nn.load: identical predictions, metadata, strict and pickle-free loading, atomic writes."""
import os
import pathlib

import numpy as np
import pytest

import nnlib as nn


def build(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential([
        nn.Conv2D(1, 3, 3, padding=1, rng=rng), nn.BatchNorm(3), nn.ReLU(), nn.MaxPool2D(2),
        nn.Flatten(), nn.Dense(3 * 4 * 4, 8, rng=rng), nn.BatchNorm(8), nn.ReLU(),
        nn.Dropout(0.3, rng=rng), nn.Dense(8, 4, init="glorot", rng=rng),
    ])


@pytest.fixture
def trained():
    """A model whose weights and BatchNorm running statistics are far from their initial values."""
    model = build()
    rng = np.random.default_rng(1)
    opt = nn.Adam(model.parameters(), lr=0.05)
    loss = nn.SoftmaxCrossEntropy()
    for _ in range(3):
        x = rng.standard_normal((16, 1, 8, 8)).astype(np.float32) * 2 + 0.5
        loss.forward(model.forward(x, training=True), rng.integers(0, 4, 16))
        model.backward(loss.backward())
        opt.step()
        opt.zero_grad()
    return model


def _x(n=10, seed=2):
    return np.random.default_rng(seed).standard_normal((n, 1, 8, 8)).astype(np.float32)


@pytest.mark.parametrize("as_path", [False, True])
def test_save_load_identical_predictions(trained, tmp_path, as_path):
    path = tmp_path / "model.npz"
    nn.save(trained, path if as_path else str(path))
    loaded = nn.load(path if as_path else str(path))
    x = _x()
    assert np.array_equal(loaded.predict_proba(x), trained.predict_proba(x))
    assert np.array_equal(loaded.forward(x, training=False), trained.forward(x, training=False))
    a, b = trained.state_dict(), loaded.state_dict()
    assert set(a) == set(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert np.array_equal(a[k], b[k]), k
    assert set(a) >= {"1.running_mean", "1.running_var", "6.running_mean", "6.running_var"}
    assert not np.allclose(b["1.running_mean"], 0), "running statistics were not saved"
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in trained.layers]


def test_save_load_float64_model(tmp_path):
    rng = np.random.default_rng(0)
    model = nn.Sequential([nn.Dense(5, 3, rng=rng, dtype=np.float64), nn.Tanh(),
                           nn.BatchNorm(3, dtype=np.float64), nn.Dense(3, 2, rng=rng, dtype=np.float64)])
    nn.save(model, tmp_path / "m.npz")
    loaded = nn.load(tmp_path / "m.npz")
    for p in loaded.parameters():
        assert p.value.dtype == np.float64
    x = rng.standard_normal((4, 5))
    assert np.array_equal(loaded.forward(x), model.forward(x))


def test_metadata_round_trips(trained, tmp_path):
    meta = {"name": "member-3", "seed": 12345, "val_acc": 0.9875, "classes": list(range(10)),
            "nested": {"lr": 1e-3, "augment": {"rotation": 10.0}, "flag": True, "none": None}}
    nn.save(trained, tmp_path / "m.npz", metadata=meta)
    model, got = nn.load_with_metadata(tmp_path / "m.npz")
    assert got == meta
    assert np.array_equal(model.predict_proba(_x()), trained.predict_proba(_x()))


def test_save_with_optimizer_state_still_loads(trained, tmp_path):
    opt = nn.Adam(trained.parameters(), lr=1e-3)
    for p in trained.parameters():
        p.grad[...] = 0.01
    opt.step()
    nn.save(trained, tmp_path / "m.npz", optimizer=opt)
    loaded = nn.load(tmp_path / "m.npz")
    assert np.array_equal(loaded.predict_proba(_x()), trained.predict_proba(_x()))


# ---------------------------------------------------------------- bad files

def _assert_names_file(excinfo, path):
    msg = str(excinfo.value)
    assert os.path.basename(str(path)) in msg, f"error does not name the file: {msg!r}"


def _arrays(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _key_of(arrays, value):
    keys = [k for k, v in arrays.items() if v.shape == value.shape and np.array_equal(v, value)]
    assert len(keys) == 1, keys
    return keys[0]


def test_truncated_file_raises_value_error_naming_file(trained, tmp_path):
    path = tmp_path / "truncated.npz"
    nn.save(trained, path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 100):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError) as excinfo:
            nn.load(path)
        _assert_names_file(excinfo, path)


def test_pickled_object_array_is_refused(trained, tmp_path):
    path = tmp_path / "good.npz"
    nn.save(trained, path)
    arrays = _arrays(path)
    key = _key_of(arrays, trained.layers[0].params["W"].value)
    arrays[key] = np.array([{"evil": "payload"}, None], dtype=object)
    bad = tmp_path / "pickled.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ValueError) as excinfo:
        nn.load(bad)
    _assert_names_file(excinfo, bad)


def test_extra_pickled_entry_is_refused(trained, tmp_path):
    path = tmp_path / "good.npz"
    nn.save(trained, path)
    arrays = _arrays(path)
    arrays["9.W"] = np.array([object()], dtype=object)
    bad = tmp_path / "extra_pickle.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ValueError) as excinfo:
        nn.load(bad)
    _assert_names_file(excinfo, bad)


@pytest.mark.parametrize("which", ["conv_W", "dense_b", "running_var"])
def test_wrong_shaped_weight_raises(trained, tmp_path, which):
    path = tmp_path / "good.npz"
    nn.save(trained, path)
    arrays = _arrays(path)
    value = {"conv_W": trained.layers[0].params["W"].value,
             "dense_b": trained.layers[5].params["b"].value,
             "running_var": trained.layers[1].running_var}[which]
    key = _key_of(arrays, value)
    arrays[key] = np.zeros(value.shape[:-1] + (value.shape[-1] + 1,), dtype=value.dtype)
    bad = tmp_path / f"wrong_shape_{which}.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ValueError) as excinfo:
        nn.load(bad)
    _assert_names_file(excinfo, bad)
    assert key in str(excinfo.value), "the error should name the offending weight"


def test_missing_weight_raises(trained, tmp_path):
    path = tmp_path / "good.npz"
    nn.save(trained, path)
    arrays = _arrays(path)
    del arrays[_key_of(arrays, trained.layers[5].params["W"].value)]
    bad = tmp_path / "missing_weight.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ValueError) as excinfo:
        nn.load(bad)
    _assert_names_file(excinfo, bad)


def test_npz_without_architecture_raises(tmp_path):
    bad = tmp_path / "plain_arrays.npz"
    np.savez(bad, a=np.zeros(3))
    with pytest.raises(ValueError) as excinfo:
        nn.load(bad)
    _assert_names_file(excinfo, bad)


def test_non_npz_file_raises(tmp_path):
    bad = tmp_path / "notes.npz"
    bad.write_text("this is not a zip archive\n")
    with pytest.raises(ValueError) as excinfo:
        nn.load(bad)
    _assert_names_file(excinfo, bad)
    plain = tmp_path / "weights.npy"
    np.save(plain, np.zeros(4))
    with pytest.raises(ValueError) as excinfo:
        nn.load(plain)
    _assert_names_file(excinfo, plain)


def test_missing_file_raises(tmp_path):
    path = tmp_path / "does_not_exist.npz"
    with pytest.raises(ValueError) as excinfo:
        nn.load(path)
    _assert_names_file(excinfo, path)


# ---------------------------------------------------------------- atomic writes

def test_save_leaves_no_temp_files(trained, tmp_path):
    nn.save(trained, tmp_path / "a.npz")
    nn.save(trained, tmp_path / "a.npz")          # overwrite
    nn.save(trained, str(tmp_path / "b.npz"), metadata={"k": 1})
    assert sorted(os.listdir(tmp_path)) == ["a.npz", "b.npz"]


def test_failed_save_keeps_existing_file(trained, tmp_path):
    path = tmp_path / "model.npz"
    nn.save(trained, path, metadata={"version": 1})
    before = path.read_bytes()
    with pytest.raises((TypeError, ValueError)):
        nn.save(build(5), path, metadata={"not json": object()})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]
    _, meta = nn.load_with_metadata(path)
    assert meta == {"version": 1}


def test_failed_replace_keeps_existing_file_and_cleans_up(trained, tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    nn.save(trained, path)
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        nn.save(build(5), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


def test_saved_file_is_a_plain_npz_without_pickles(trained, tmp_path):
    path = tmp_path / "m.npz"
    nn.save(trained, path, metadata={"a": 1})
    arrays = _arrays(pathlib.Path(path))     # would raise on any object array
    assert all(v.dtype != object for v in arrays.values())
    assert any(k.endswith("W") for k in arrays)
