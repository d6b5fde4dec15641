"""Initialisers by name: each draws with the variance it promises (within sampling error), the
uniform ones stay inside their bound, the normal ones do not, and the aliases agree."""
import numpy as np
import pytest

import nnlib as nn
from nnlib.init import INITS

FAN_IN, FAN_OUT = 600, 400
SIZE = FAN_IN * FAN_OUT
# the sample variance of SIZE draws has a relative standard error of sqrt((kurtosis - 1) / SIZE):
# kurtosis 3 (normal) or 1.8 (uniform); five standard errors of the normal case
TOLERANCE = 5 * np.sqrt(2 / SIZE)

EXPECTED_VARIANCE = {
    "he": 2 / FAN_IN, "he_normal": 2 / FAN_IN, "he_uniform": 2 / FAN_IN,
    "glorot": 2 / (FAN_IN + FAN_OUT), "glorot_uniform": 2 / (FAN_IN + FAN_OUT),
    "glorot_normal": 2 / (FAN_IN + FAN_OUT), "xavier": 2 / (FAN_IN + FAN_OUT),
    "xavier_uniform": 2 / (FAN_IN + FAN_OUT), "xavier_normal": 2 / (FAN_IN + FAN_OUT),
    "gaussian": 0.01 ** 2,
}


def dense_weights(init, seed=0, **kwargs):
    layer = nn.Dense(FAN_IN, FAN_OUT, init=init, rng=np.random.default_rng(seed),
                     dtype=np.float64, **kwargs)
    return layer.params["W"].value


def test_every_initialiser_has_an_expected_variance():
    assert set(EXPECTED_VARIANCE) == set(INITS)


@pytest.mark.parametrize("init", INITS)
def test_dense_initialiser_variance(init):
    w = dense_weights(init)
    assert abs(w.mean()) < 5 * np.sqrt(EXPECTED_VARIANCE[init] / SIZE)
    assert w.var() == pytest.approx(EXPECTED_VARIANCE[init], rel=TOLERANCE)


@pytest.mark.parametrize("init", INITS)
def test_uniform_initialisers_are_bounded_and_normal_ones_are_not(init):
    w = dense_weights(init)
    bound = np.sqrt(3 * EXPECTED_VARIANCE[init])   # a uniform law's bound for that variance
    uniform = init.endswith("uniform") or init in ("glorot", "xavier")
    if uniform:
        assert np.abs(w).max() <= bound
        assert np.abs(w).max() > 0.999 * bound
    else:
        assert np.abs(w).max() > 1.5 * bound     # a normal law's tails reach far beyond it


@pytest.mark.parametrize("init,fans", [("he_uniform", (32 * 15, None)),
                                       ("glorot_normal", (32 * 15, 64 * 15)),
                                       ("xavier_uniform", (32 * 15, 64 * 15))])
def test_conv_initialisers_use_the_receptive_field_of_a_rectangular_kernel(init, fans):
    layer = nn.Conv2D(32, 64, (3, 5), init=init, rng=np.random.default_rng(3), dtype=np.float64)
    w = layer.params["W"].value
    assert w.shape == (64, 32, 3, 5)
    fan_in, fan_out = fans
    expected = 2 / fan_in if fan_out is None else 2 / (fan_in + fan_out)
    assert w.var() == pytest.approx(expected, rel=5 * np.sqrt(2 / w.size))


@pytest.mark.parametrize("std", [0.01, 0.3])
def test_gaussian_uses_the_given_std_and_keeps_it_in_the_config(std):
    w = dense_weights("gaussian", init_std=std)
    assert w.std() == pytest.approx(std, rel=TOLERANCE)
    layer = nn.Dense(3, 2, init="gaussian", init_std=std, rng=np.random.default_rng(0))
    rebuilt = nn.Sequential.from_config(nn.Sequential([layer]).get_config())
    assert rebuilt.layers[0].init_std == std


def test_aliases_draw_the_same_weights():
    np.testing.assert_array_equal(dense_weights("xavier"), dense_weights("glorot"))
    np.testing.assert_array_equal(dense_weights("xavier_normal"), dense_weights("glorot_normal"))
    np.testing.assert_array_equal(dense_weights("he"), dense_weights("he_normal"))


def test_configs_of_the_old_initialisers_are_unchanged():
    config = nn.Dense(3, 2, rng=np.random.default_rng(0)).get_config()
    assert config == {"in_features": 3, "out_features": 2, "init": "he", "dtype": "float32"}


@pytest.mark.parametrize("bad", [dict(init="lecun"), dict(init="gaussian", init_std=0),
                                 dict(init="gaussian", init_std=-1.0)])
def test_bad_initialiser_arguments_are_refused_by_name(bad):
    name = "init_std" if "init_std" in bad else "init"
    with pytest.raises(ValueError, match=name):
        nn.Dense(3, 2, rng=np.random.default_rng(0), **bad)
