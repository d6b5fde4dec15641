"""Sequential: parameter naming, state dicts, config round trip, predict_proba, summary."""
import json
import re

import numpy as np
import pytest

import nnlib as nn
import reference as ref


def build(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return nn.Sequential([
        nn.Conv2D(1, 2, 3, padding=1, rng=rng, dtype=dtype), nn.BatchNorm(2, dtype=dtype),
        nn.ReLU(), nn.MaxPool2D(2), nn.Flatten(), nn.Dropout(0.5, rng=rng),
        nn.Dense(2 * 3 * 3, 3, rng=rng, dtype=dtype),
    ])


def _warm_up(model, seed=1):
    """One training forward so BatchNorm running statistics are not the initial 0 / 1."""
    x = np.random.default_rng(seed).standard_normal((8, 1, 6, 6)).astype(np.float32) * 3 + 1
    model.forward(x, training=True)


def test_named_parameters_dotted_names():
    model = build()
    named = model.named_parameters()
    names = [n for n, _ in named]
    assert sorted(names) == sorted(["0.W", "0.b", "1.gamma", "1.beta", "6.W", "6.b"])
    assert len(set(names)) == len(names)
    assert [id(p) for _, p in named] == [id(p) for p in model.parameters()]
    d = dict(named)
    assert d["0.W"] is model.layers[0].params["W"]
    assert d["6.b"] is model.layers[6].params["b"]
    assert d["0.W"].value.shape == (2, 1, 3, 3) and d["6.W"].value.shape == (18, 3)


def test_state_dict_has_params_and_buffers_and_loads_strictly():
    model = build()
    _warm_up(model)
    state = {k: np.array(v) for k, v in model.state_dict().items()}
    assert set(state) == {"0.W", "0.b", "1.gamma", "1.beta", "1.running_mean", "1.running_var",
                          "6.W", "6.b"}
    other = build(seed=9)
    other.load_state_dict(state)
    x = np.random.default_rng(3).standard_normal((4, 1, 6, 6)).astype(np.float32)
    assert np.array_equal(other.forward(x), model.forward(x))
    bad = dict(state)
    bad["6.W"] = np.zeros((3, 18), dtype=np.float32)
    with pytest.raises(ValueError, match="6.W"):
        other.load_state_dict(bad)
    missing = dict(state)
    del missing["1.running_var"]
    with pytest.raises(ValueError):
        other.load_state_dict(missing)
    extra = dict(state, **{"7.W": np.zeros(3, dtype=np.float32)})
    with pytest.raises(ValueError):
        other.load_state_dict(extra)


def test_config_round_trip_is_json():
    model = build()
    _warm_up(model)
    cfg = json.loads(json.dumps(model.get_config()))
    clone = nn.Sequential.from_config(cfg)
    assert [type(l).__name__ for l in clone.layers] == [type(l).__name__ for l in model.layers]
    clone.load_state_dict(model.state_dict())
    x = np.random.default_rng(4).standard_normal((3, 1, 6, 6)).astype(np.float32)
    assert np.array_equal(clone.forward(x), model.forward(x))
    conv = clone.layers[0]
    assert (conv.params["W"].value.shape, conv.stride, conv.padding) == ((2, 1, 3, 3), 1, 1)
    assert clone.layers[5].p == 0.5


def test_predict_proba_is_eval_softmax_and_batched_equals_unbatched():
    model = build()
    _warm_up(model)
    rm = model.layers[1].running_mean.copy()
    x = np.random.default_rng(5).standard_normal((23, 1, 6, 6)).astype(np.float32)
    p = model.predict_proba(x)
    assert p.shape == (23, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p, ref.softmax(model.forward(x, training=False)),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.predict_proba(x, batch_size=4), p, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.predict_proba(x, batch_size=1), p, rtol=1e-5, atol=1e-7)
    # eval mode: deterministic despite Dropout, running statistics untouched
    assert np.array_equal(model.predict_proba(x), p)
    np.testing.assert_array_equal(model.layers[1].running_mean, rm)


def test_predict_proba_float64_model_sums_to_one():
    model = build(dtype=np.float64)
    x = np.random.default_rng(6).standard_normal((7, 1, 6, 6)) * 50     # large logits
    p = model.predict_proba(x, batch_size=3)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)


def test_summary_lists_layers_shapes_and_total():
    model = build()
    text = model.summary(input_shape=(1, 6, 6))
    assert isinstance(text, str)
    expected = [("Conv2D", (2, 6, 6), 20), ("BatchNorm", (2, 6, 6), 4), ("ReLU", (2, 6, 6), 0),
                ("MaxPool2D", (2, 3, 3), 0), ("Flatten", (18,), 0), ("Dropout", (18,), 0),
                ("Dense", (3,), 57)]
    lines = text.splitlines()
    pos = 0
    for name, shape, count in expected:
        while pos < len(lines) and name not in lines[pos]:
            pos += 1
        assert pos < len(lines), f"{name} missing (or out of order) in summary:\n{text}"
        line = lines[pos]
        shape_re = r"\(\s*(None,\s*)?" + r",\s*".join(map(str, shape)) + r",?\s*\)"
        assert re.search(shape_re, line), f"output shape {shape} missing in {line!r}"
        assert re.search(rf"(?<![\d,]){count}(?![\d,])", line), f"count {count} missing in {line!r}"
        pos += 1
    total = sum(p.value.size for p in model.parameters())
    assert total == 81
    assert any("total" in l.lower() and re.search(r"(?<![\d,])81(?![\d,])", l) for l in lines), text
