"""Numerical gradient checks (float64, central differences, random upstream gradient).

Every check goes through gradutil.check_layer, which compares the layer's backward(g) and its
Param.grad with central differences of sum(forward(x) * g). Inputs are kept away from kinks.
"""
import itertools

import numpy as np
import pytest

import nnlib as nn
import reference as ref
from gradutil import assert_grad_close, check_layer, numerical_grad

F64 = np.float64


def _away_from_zero(rng, shape, margin=0.1):
    return rng.choice([-1.0, 1.0], size=shape) * (margin + np.abs(rng.standard_normal(shape)))


def _distinct(rng, shape, spacing=0.05):
    """Values that are pairwise at least `spacing` apart: no ties, no max-pool kinks."""
    size = int(np.prod(shape))
    return (rng.permutation(size).reshape(shape) - size / 2) * spacing


# ---------------------------------------------------------------- parameterised layers

def test_dense_gradients():
    rng = np.random.default_rng(0)
    layer = nn.Dense(5, 4, rng=np.random.default_rng(1), dtype=F64)
    layer.params["b"].value[...] = rng.standard_normal(4)
    check_layer(layer, rng.standard_normal((3, 5)), rng, param_names=["W", "b"])


@pytest.mark.parametrize("kernel,stride,padding",
                         list(itertools.product([1, 3, 5], [1, 2], [0, 1, 2])))
def test_conv2d_gradients(kernel, stride, padding):
    rng = np.random.default_rng(100 * kernel + 10 * stride + padding)
    n, cin, cout = rng.integers(1, 3), rng.integers(1, 4), rng.integers(1, 4)
    h, w = rng.choice([5, 7, 9], size=2)
    layer = nn.Conv2D(cin, cout, kernel, stride=stride, padding=padding,
                      rng=np.random.default_rng(7), dtype=F64)
    layer.params["b"].value[...] = rng.standard_normal(cout)
    check_layer(layer, rng.standard_normal((n, cin, h, w)), rng, param_names=["W", "b"])


def test_conv2d_gradients_rectangular_and_many_channels():
    rng = np.random.default_rng(42)
    layer = nn.Conv2D(4, 3, 3, stride=2, padding=1, rng=np.random.default_rng(2), dtype=F64)
    check_layer(layer, rng.standard_normal((2, 4, 7, 11)), rng, param_names=["W", "b"])


# ---------------------------------------------------------------- pooling

@pytest.mark.parametrize("kernel,stride", list(itertools.product([2, 3], [None, 1, 2])))
def test_maxpool_gradients(kernel, stride):
    rng = np.random.default_rng(10 * kernel + (stride or 0))
    layer = nn.MaxPool2D(kernel) if stride is None else nn.MaxPool2D(kernel, stride=stride)
    h, w = rng.choice([7, 9], size=2)
    check_layer(layer, _distinct(rng, (2, 3, h, w)), rng)


@pytest.mark.parametrize("kernel,stride", list(itertools.product([2, 3], [None, 1, 2])))
def test_avgpool_gradients(kernel, stride):
    rng = np.random.default_rng(20 * kernel + (stride or 0))
    layer = nn.AvgPool2D(kernel) if stride is None else nn.AvgPool2D(kernel, stride=stride)
    h, w = rng.choice([7, 9], size=2)
    check_layer(layer, rng.standard_normal((2, 2, h, w)), rng)


def test_maxpool_routes_each_window_gradient_once_even_with_ties():
    # All-equal windows (common after ReLU) must not multiply the gradient: like PyTorch,
    # each window's upstream gradient goes to exactly one input element.
    layer = nn.MaxPool2D(2)
    x = np.zeros((1, 1, 4, 4))
    layer.forward(x, training=True)
    dy = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    dx = layer.backward(dy.copy())
    assert dx.shape == x.shape
    assert dx.sum() == pytest.approx(dy.sum())
    assert np.count_nonzero(dx) == 4


def test_maxpool_odd_size_leftover_gets_zero_gradient():
    rng = np.random.default_rng(5)
    layer = nn.MaxPool2D(2)
    x = _distinct(rng, (1, 2, 7, 7))
    y = layer.forward(x, training=True)
    assert y.shape == (1, 2, 3, 3)
    dx = layer.backward(np.ones_like(y))
    np.testing.assert_array_equal(dx[..., 6, :], 0)
    np.testing.assert_array_equal(dx[..., :, 6], 0)


# ---------------------------------------------------------------- element-wise and shape layers

def test_flatten_gradients():
    rng = np.random.default_rng(3)
    dx = check_layer(nn.Flatten(), rng.standard_normal((2, 3, 3, 5)), rng)
    assert dx.shape == (2, 3, 3, 5)


@pytest.mark.parametrize("shape", [(4, 7), (2, 3, 5, 5)])
def test_relu_gradients(shape):
    rng = np.random.default_rng(4)
    check_layer(nn.ReLU(), _away_from_zero(rng, shape), rng)


@pytest.mark.parametrize("cls", ["Sigmoid", "Tanh"])
def test_sigmoid_tanh_gradients(cls):
    rng = np.random.default_rng(6)
    check_layer(getattr(nn, cls)(), 2 * rng.standard_normal((3, 2, 3, 3)), rng)


# ---------------------------------------------------------------- Dropout

def test_dropout_eval_is_identity_and_backward_passes_through():
    rng = np.random.default_rng(0)
    layer = nn.Dropout(0.5, rng=np.random.default_rng(1))
    x = rng.standard_normal((4, 6))
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    g = rng.standard_normal((4, 6))
    np.testing.assert_array_equal(layer.backward(g.copy()), g)


def test_dropout_training_backward_is_mask_times_scale():
    p = 0.4
    layer = nn.Dropout(p, rng=np.random.default_rng(11))
    rng = np.random.default_rng(12)
    y = layer.forward(np.ones((8, 3, 5, 5)), training=True)
    scale = 1.0 / (1.0 - p)
    kept = y != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(y[kept], scale, rtol=1e-12)
    g = rng.standard_normal(y.shape)
    np.testing.assert_allclose(layer.backward(g.copy()), g * kept * scale, rtol=1e-12)


# ---------------------------------------------------------------- BatchNorm (training mode)

@pytest.mark.parametrize("shape", [(6, 3), (3, 2, 3, 3), (2, 3, 4, 5)])
def test_batchnorm_training_gradients(shape):
    rng = np.random.default_rng(len(shape) * 10 + shape[0])
    c = shape[1]
    layer = nn.BatchNorm(c, dtype=F64)
    layer.params["gamma"].value[...] = 1 + 0.5 * rng.standard_normal(c)
    layer.params["beta"].value[...] = rng.standard_normal(c)
    x = 3 * rng.standard_normal(shape) + 1
    check_layer(layer, x, rng, param_names=["gamma", "beta"], rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- the loss

@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_softmax_cross_entropy_value_and_gradient(smoothing):
    rng = np.random.default_rng(int(smoothing * 100))
    logits = 2 * rng.standard_normal((5, 4))
    labels = rng.integers(0, 4, size=5)
    loss = nn.SoftmaxCrossEntropy(label_smoothing=smoothing)
    value = loss.forward(logits, labels)
    assert np.ndim(value) == 0
    assert float(value) == pytest.approx(ref.softmax_cross_entropy(logits, labels, smoothing),
                                         rel=1e-10)
    analytic = np.array(loss.backward())
    target = np.full((5, 4), smoothing / 4)
    target[np.arange(5), labels] += 1 - smoothing
    np.testing.assert_allclose(analytic, (ref.softmax(logits) - target) / 5, rtol=1e-9, atol=1e-12)
    numeric = numerical_grad(lambda: float(loss.forward(logits, labels)), logits)
    assert_grad_close(analytic, numeric, "dlogits")


def test_softmax_cross_entropy_is_numerically_stable():
    loss = nn.SoftmaxCrossEntropy()
    logits = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 999.0]])
    value = float(loss.forward(logits, np.array([0, 2])))
    assert np.isfinite(value)
    assert value == pytest.approx((0.0 + (1000 - 999 + np.log1p(np.exp(-1.0)))) / 2, rel=1e-9)
    d = loss.backward()
    assert np.all(np.isfinite(d))
    np.testing.assert_allclose(d.sum(axis=1), 0, atol=1e-12)


# ---------------------------------------------------------------- a whole model

def test_sequential_gradients_all_parameters():
    rng = np.random.default_rng(2024)
    prng = np.random.default_rng(9)
    model = nn.Sequential([
        nn.Conv2D(1, 2, 3, padding=1, rng=prng, dtype=F64), nn.BatchNorm(2, dtype=F64), nn.ReLU(),
        nn.MaxPool2D(2), nn.Flatten(), nn.Dense(2 * 3 * 3, 3, rng=prng, dtype=F64),
    ])
    named = dict(model.named_parameters())
    named["1.gamma"].value[...] = [1.3, 0.7]
    named["1.beta"].value[...] = [0.2, -0.1]
    x = rng.standard_normal((3, 1, 6, 6))
    labels = np.array([0, 2, 1])
    loss = nn.SoftmaxCrossEntropy()

    def scalar():
        return float(loss.forward(model.forward(x, training=True), labels))

    scalar()
    for p in model.parameters():
        p.grad[...] = 0
    dx = model.backward(loss.backward())
    analytic = {name: np.array(p.grad) for name, p in named.items()}
    assert set(named) == {"0.W", "0.b", "1.gamma", "1.beta", "5.W", "5.b"}
    assert_grad_close(dx, numerical_grad(scalar, x), "dx", rtol=1e-4)
    for name, p in named.items():
        if name == "0.b":
            # BatchNorm right after the conv cancels the conv bias: its true gradient is ~0
            np.testing.assert_allclose(analytic[name], 0, atol=1e-8)
            continue
        assert_grad_close(analytic[name], numerical_grad(scalar, p.value), name, rtol=1e-4)


# ---------------------------------------------------------------- the library's own helper

def test_library_check_gradients_accepts_correct_and_rejects_wrong_backward():
    # nnlib.check_gradients is nnlib.gradcheck.check_layer_gradients(layer, x, rng, ...)
    rng = np.random.default_rng(8)
    layer = nn.Conv2D(2, 2, 3, stride=2, padding=1, rng=np.random.default_rng(1), dtype=F64)
    x = rng.standard_normal((1, 2, 5, 5))
    nn.check_gradients(layer, x, np.random.default_rng(0))

    class Wrong(nn.Dense):
        def backward(self, dy, *args, **kwargs):
            dx = super().backward(dy, *args, **kwargs)
            self.params["W"].grad[...] *= 1.01
            return dx

    with pytest.raises(AssertionError):
        nn.check_gradients(Wrong(3, 2, rng=np.random.default_rng(2), dtype=F64),
                           rng.standard_normal((4, 3)), np.random.default_rng(0))
    with pytest.raises(ValueError):
        nn.check_gradients(layer, x.astype(np.float32), np.random.default_rng(0))
