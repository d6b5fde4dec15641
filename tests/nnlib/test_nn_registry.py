"""Layers register themselves: from_config gives an rng to the layers that declare they take
one, and the planner relies on what a layer declares, never on a list of class names."""
import os

import numpy as np
import pytest

import nnlib as nn
from nnlib.atomic import _probed_umask, atomic_open, current_umask
from nnlib.layers import layer_info, register_layer


@register_layer(takes_rng=True, per_sample=True, eval_output="new")
class NoisyScale(nn.Layer):
    """A test layer that draws its scale from the rng it is given."""

    def __init__(self, rng=None):
        super().__init__()
        self.scale = float(rng.uniform(1, 2))

    def forward(self, x, training=False):
        return x * self.scale

    def backward(self, dy):
        return dy * self.scale


class Table(nn.Layer):
    """Unregistered: returns an array it keeps (whoever receives it must not write into it)."""

    def __init__(self, shape):
        super().__init__()
        self.table = np.full(shape, -1.0, dtype=np.float32)

    def forward(self, x, training=False):
        return self.table


def test_from_config_gives_an_rng_to_layers_that_declare_one():
    model = nn.Sequential([nn.Flatten(), NoisyScale(rng=np.random.default_rng(0))])
    config = model.get_config()
    a = nn.Sequential.from_config(config, rng=np.random.default_rng(7))
    b = nn.Sequential.from_config(config, rng=np.random.default_rng(7))
    assert a.layers[1].scale == b.layers[1].scale
    assert "NoisyScale" in nn.LAYER_TYPES and nn.LAYER_TYPES["NoisyScale"] is NoisyScale
    assert isinstance(nn.Sequential.from_config(config).layers[0], nn.Flatten)   # no rng needed


def test_builtin_layers_declare_what_they_are():
    assert layer_info(nn.Conv2D).takes_rng and layer_info(nn.Dropout).takes_rng
    assert not layer_info(nn.ReLU).takes_rng
    assert layer_info(nn.Dense).per_sample and not layer_info(nn.BatchNorm).per_sample
    assert not layer_info(nn.Dropout).per_sample
    assert layer_info(Table).eval_output == "unknown"


def test_unknown_layer_type_is_a_one_line_error():
    with pytest.raises(ValueError, match="unknown layer type 'Nope'"):
        nn.Sequential.from_config({"layers": [{"class": "Nope", "config": {}}]})


def test_registry_view_is_read_only_and_names_are_unique():
    with pytest.raises(TypeError):
        nn.LAYER_TYPES["Dense"] = None
    with pytest.raises(ValueError, match="already registered"):
        register_layer()(type("Dense", (nn.Layer,), {}))


def test_eval_never_overwrites_an_array_of_unknown_origin():
    """After a fresh conv output, an unregistered layer's output may be held elsewhere: the
    ReLU after it must not run in place."""
    conv = nn.Conv2D(1, 1, 1, rng=np.random.default_rng(0))
    table = Table((2, 1, 3, 3))
    model = nn.Sequential([conv, table, nn.ReLU()])
    y = model.forward(np.ones((2, 1, 3, 3), dtype=np.float32))
    assert np.array_equal(y, np.zeros((2, 1, 3, 3)))
    assert np.array_equal(table.table, np.full((2, 1, 3, 3), -1.0))


def test_atomic_files_get_the_umask_mode_and_the_umask_is_read_without_setting_it(tmp_path):
    before = os.umask(0o027)
    try:
        assert current_umask(tmp_path) == 0o027
        assert _probed_umask(tmp_path) == 0o027          # the fallback off Linux
        with atomic_open(tmp_path / "out.txt") as handle:
            handle.write("x")
        assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o640
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    finally:
        os.umask(before)
