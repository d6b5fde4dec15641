"""Conv2D / pooling / Dense forward passes against the slow loop references in reference.py."""
import itertools
import zlib

import numpy as np
import pytest

import nnlib as nn
import reference as ref

CONV_CASES = list(itertools.product([1, 3, 5], [1, 2], [0, 1, 2], [np.float32, np.float64]))


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- the references themselves

def test_reference_conv_hand_computed():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    W = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    out = ref.conv2d(x, W, np.array([0.5]), stride=2, padding=0)
    # x[r, s] - x[r+1, s+1] = -5 everywhere, plus the bias
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), -4.5))
    out = ref.conv2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), np.zeros(1), padding=1)
    np.testing.assert_array_equal(out[0, 0], np.full((2, 2), 4.0))


def test_reference_pools_hand_computed():
    x = np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)
    np.testing.assert_array_equal(ref.maxpool2d(x, 2)[0, 0], [[6, 8], [16, 18]])
    np.testing.assert_array_equal(ref.avgpool2d(x, 2)[0, 0], [[3, 5], [13, 15]])
    np.testing.assert_array_equal(ref.maxpool2d(x, 3, 2)[0, 0], [[12, 14], [22, 24]])


# ---------------------------------------------------------------- nnlib against the references

@pytest.mark.parametrize("kernel,stride,padding,dtype", CONV_CASES)
def test_conv2d_forward_matches_reference(kernel, stride, padding, dtype):
    rng = np.random.default_rng(1000 * kernel + 100 * stride + 10 * padding + (dtype == np.float32))
    n, cin, cout = rng.integers(1, 4), rng.integers(1, 5), rng.integers(1, 5)
    h, w = rng.choice([7, 9, 11], size=2)
    layer = nn.Conv2D(cin, cout, kernel, stride=stride, padding=padding,
                      rng=np.random.default_rng(5), dtype=dtype)
    W, b = layer.params["W"], layer.params["b"]
    assert W.value.shape == (cout, cin, kernel, kernel) and b.value.shape == (cout,)
    assert W.value.dtype == dtype and b.value.dtype == dtype
    b.value[...] = rng.standard_normal(cout)           # a zero bias would hide bias bugs
    x = rng.standard_normal((n, cin, h, w)).astype(dtype)
    y = layer.forward(x, training=False)
    expected = ref.conv2d(x, W.value, b.value, stride=stride, padding=padding)
    assert y.shape == expected.shape
    assert y.dtype == dtype
    np.testing.assert_allclose(y, expected, **_tol(dtype))
    np.testing.assert_array_equal(layer.forward(x, training=True), y)


@pytest.mark.parametrize("seed", range(6))
def test_conv2d_forward_non_contiguous_input(seed):
    rng = np.random.default_rng(seed)
    layer = nn.Conv2D(3, 2, 3, stride=1 + seed % 2, padding=seed % 3,
                      rng=np.random.default_rng(seed), dtype=np.float64)
    x = rng.standard_normal((2, 9, 9, 3)).transpose(0, 3, 1, 2)   # NCHW view of NHWC memory
    assert not x.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(
        layer.forward(x), ref.conv2d(x, layer.params["W"].value, layer.params["b"].value,
                                     stride=1 + seed % 2, padding=seed % 3), rtol=1e-10, atol=1e-10)


POOL_CASES = list(itertools.product(
    ["max", "avg"], [2, 3], [None, 1, 2], [np.float32, np.float64]))


@pytest.mark.parametrize("kind,kernel,stride,dtype", POOL_CASES)
def test_pool_forward_matches_reference(kind, kernel, stride, dtype):
    rng = np.random.default_rng(zlib.crc32(f"{kind}{kernel}{stride}{dtype}".encode()))
    n, c = rng.integers(1, 4), rng.integers(1, 5)
    h, w = rng.choice([7, 9, 11], size=2)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    cls, fn = (nn.MaxPool2D, ref.maxpool2d) if kind == "max" else (nn.AvgPool2D, ref.avgpool2d)
    layer = cls(kernel) if stride is None else cls(kernel, stride=stride)
    y = layer.forward(x, training=False)
    expected = fn(x, kernel, stride)
    assert y.shape == expected.shape, "floor-mode output size expected (PyTorch default)"
    assert y.dtype == dtype
    np.testing.assert_allclose(y, expected, **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_forward_matches_reference(dtype):
    rng = np.random.default_rng(3)
    layer = nn.Dense(7, 5, rng=np.random.default_rng(1), dtype=dtype)
    assert layer.params["W"].value.shape == (7, 5) and layer.params["b"].value.shape == (5,)
    layer.params["b"].value[...] = rng.standard_normal(5)
    x = rng.standard_normal((3, 7)).astype(dtype)
    y = layer.forward(x)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, ref.dense(x, layer.params["W"].value, layer.params["b"].value),
                               **_tol(dtype))


def test_elementwise_activations_forward():
    x = np.linspace(-5, 5, 41).reshape(1, 41)
    np.testing.assert_allclose(nn.ReLU().forward(x), np.maximum(x, 0))
    np.testing.assert_allclose(nn.Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(nn.Tanh().forward(x), np.tanh(x), rtol=1e-12)
    big = np.array([[-1000.0, 1000.0]])
    s = nn.Sigmoid().forward(big)
    np.testing.assert_allclose(s, [[0.0, 1.0]], atol=1e-300)
    x4 = np.arange(24.0).reshape(2, 3, 2, 2)
    np.testing.assert_array_equal(nn.Flatten().forward(x4), x4.reshape(2, 12))
