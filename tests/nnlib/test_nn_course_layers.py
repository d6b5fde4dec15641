"""The pieces the classic course's examples need: Softmax as a layer, MeanSquaredError and
BinaryCrossEntropy (with a Sigmoid output), padded and rectangular pooling, rectangular conv
kernels. Gradients checked numerically (float64, central differences); forward passes against
loop references written here."""
import numpy as np
import pytest

import nnlib as nn
from gradutil import assert_grad_close, check_layer, numerical_grad

F64 = np.float64


def _distinct(rng, shape, spacing=0.05):
    size = int(np.prod(shape))
    return (rng.permutation(size).reshape(shape) - size / 2) * spacing


def loop_pool(x, kernel, stride, padding, reduce, fill):
    """Pooling by definition: pad with `fill`, then reduce every window."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    n, c, h, w = xp.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.empty((n, c, ho, wo))
    for r in range(ho):
        for s in range(wo):
            out[:, :, r, s] = reduce(xp[:, :, r * sh:r * sh + kh, s * sw:s * sw + kw], axis=(2, 3))
    return out


POOL_CASES = [((3, 3), (2, 2), (1, 1)), ((2, 3), (1, 2), (0, 1)), ((3, 2), (2, 1), (1, 0)),
              ((2, 2), (2, 2), (1, 1)), ((4, 2), (3, 2), (2, 1))]


@pytest.mark.parametrize("kernel,stride,padding", POOL_CASES)
def test_maxpool_padded_rectangular_forward_and_gradient(kernel, stride, padding):
    rng = np.random.default_rng(sum(kernel) * 10 + sum(stride) + sum(padding))
    layer = nn.MaxPool2D(kernel, stride=stride, padding=padding)
    x = _distinct(rng, (2, 3, 7, 8))
    np.testing.assert_allclose(layer.forward(x), loop_pool(x, kernel, stride, padding, np.max,
                                                           -np.inf))
    assert layer.output_shape((3, 7, 8)) == layer.forward(x).shape[1:]
    check_layer(layer, x, rng)


@pytest.mark.parametrize("kernel,stride,padding", POOL_CASES)
def test_avgpool_padded_rectangular_forward_and_gradient(kernel, stride, padding):
    rng = np.random.default_rng(sum(kernel) * 20 + sum(stride) + sum(padding))
    layer = nn.AvgPool2D(kernel, stride=stride, padding=padding)
    x = rng.standard_normal((2, 2, 7, 8))
    np.testing.assert_allclose(layer.forward(x), loop_pool(x, kernel, stride, padding, np.mean, 0))
    check_layer(layer, x, rng)


def test_padded_pools_survive_a_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    model = nn.Sequential([nn.Conv2D(1, 2, (3, 1), padding=1, rng=rng), nn.ReLU(),
                           nn.MaxPool2D(2, padding=1),
                           nn.MaxPool2D((2, 3), stride=(2, 1), padding=1),
                           nn.AvgPool2D(3, stride=2, padding=1), nn.Flatten()])
    x = rng.standard_normal((3, 1, 9, 6)).astype(np.float32)
    nn.save(model, tmp_path / "m.npz")
    loaded = nn.load(tmp_path / "m.npz")
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    # the fused paths (conv, ReLU, pool) must not treat a padded 2x2/2 pool as unpadded
    chained = x
    for layer in model.layers:
        chained = layer.forward(chained)
    np.testing.assert_allclose(model.forward(x), chained, rtol=1e-6)
    np.testing.assert_allclose(model.forward(x, training=True), chained, rtol=1e-6)


def test_pool_padding_over_half_the_kernel_is_refused():
    with pytest.raises(ValueError, match="padding"):
        nn.MaxPool2D(2, padding=2)
    with pytest.raises(ValueError, match="kernel_size"):
        nn.AvgPool2D((2, 0))


@pytest.mark.parametrize("kernel,stride,padding", [((1, 3), 1, 1), ((3, 2), 2, 0), ((2, 5), 1, 2)])
def test_conv2d_rectangular_kernel_gradients(kernel, stride, padding):
    rng = np.random.default_rng(kernel[0] * 7 + kernel[1])
    layer = nn.Conv2D(2, 3, kernel, stride=stride, padding=padding,
                      rng=np.random.default_rng(1), dtype=F64)
    layer.params["b"].value[...] = rng.standard_normal(3)
    x = rng.standard_normal((2, 2, 6, 7))
    assert layer.forward(x).shape[1:] == layer.output_shape((2, 6, 7))
    check_layer(layer, x, rng, param_names=["W", "b"])


def loop_conv(x, w, b, stride, padding):
    """Cross-correlation by definition, strides (sh, sw)."""
    (sh, sw), p = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    kh, kw = w.shape[2:]
    ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    out = np.empty((x.shape[0], w.shape[0], ho, wo))
    for r in range(ho):
        for c in range(wo):
            patch = xp[:, :, r * sh:r * sh + kh, c * sw:c * sw + kw]
            out[:, :, r, c] = np.einsum("nchw,ochw->no", patch, w) + b
    return out


@pytest.mark.parametrize("kernel,stride,padding", [(3, (2, 1), 1), ((2, 3), (1, 3), 0),
                                                   ((3, 1), (3, 2), 2)])
def test_conv2d_unequal_strides_forward_gradients_and_in_a_model(kernel, stride, padding):
    rng = np.random.default_rng(sum(stride) * 3 + padding)
    layer = nn.Conv2D(2, 3, kernel, stride=stride, padding=padding,
                      rng=np.random.default_rng(4), dtype=F64)
    layer.params["b"].value[...] = rng.standard_normal(3)
    x = rng.standard_normal((2, 2, 7, 8))
    expected = loop_conv(x, layer.params["W"].value, layer.params["b"].value, stride, padding)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-10, atol=1e-12)
    assert layer.output_shape((2, 7, 8)) == expected.shape[1:]
    check_layer(layer, x, rng, param_names=["W", "b"])
    model = nn.Sequential([layer, nn.ReLU(), nn.Flatten()])   # the planner runs it unfused
    np.testing.assert_allclose(model.forward(x), np.maximum(expected, 0).reshape(2, -1),
                               rtol=1e-10, atol=1e-12)
    model.forward(x, training=True)
    model.backward(np.ones((2, expected[0].size)))


def test_softmax_layer_forward_and_gradient():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5)) * 2
    y = nn.Softmax().forward(x)
    expected = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    check_layer(nn.Softmax(), x, rng)


def _loss_gradient_check(loss, pred, target):
    value = loss.forward(pred, target)
    analytic = loss.backward()
    numeric = numerical_grad(lambda: loss.forward(pred, target), pred)
    assert_grad_close(analytic, numeric, type(loss).__name__)
    return value


def test_mse_value_and_gradient_with_targets_and_with_labels():
    rng = np.random.default_rng(4)
    pred, target = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    value = _loss_gradient_check(nn.MeanSquaredError(), pred, target)
    assert value == pytest.approx(np.mean((pred - target) ** 2))
    labels = np.array([0, 2, 1, 1, 0])
    value = _loss_gradient_check(nn.MeanSquaredError(), pred, labels)
    assert value == pytest.approx(np.mean((pred - np.eye(3)[labels]) ** 2))


@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_cross_entropy_value_and_gradient(from_logits):
    rng = np.random.default_rng(5)
    z = rng.standard_normal((6, 2)) * 2
    target = rng.integers(0, 2, (6, 2)).astype(F64)
    p = 1 / (1 + np.exp(-z))
    pred = z if from_logits else p
    value = _loss_gradient_check(nn.BinaryCrossEntropy(from_logits=from_logits), pred, target)
    assert value == pytest.approx(-np.mean(target * np.log(p) + (1 - target) * np.log(1 - p)))


def test_sigmoid_output_with_binary_cross_entropy_backpropagates_to_the_weights():
    rng = np.random.default_rng(6)
    model = nn.Sequential([nn.Dense(4, 1, init="glorot", rng=rng, dtype=F64), nn.Sigmoid()])
    x, t = rng.standard_normal((8, 4)), rng.integers(0, 2, (8, 1)).astype(F64)
    loss = nn.BinaryCrossEntropy()
    loss.forward(model.forward(x, training=True), t)
    model.backward(loss.backward())
    w = model.layers[0].params["W"]

    def scalar():
        return loss.forward(model.forward(x, training=True), t)

    assert_grad_close(w.grad.copy(), numerical_grad(scalar, w.value), "W")


def test_binary_cross_entropy_on_extreme_logits_is_finite():
    loss = nn.BinaryCrossEntropy(from_logits=True)
    value = loss.forward(np.array([[800.0], [-800.0]]), np.array([[0.0], [1.0]]))
    assert value == pytest.approx(800.0)
    assert np.all(np.isfinite(loss.backward()))


def test_predict_proba_after_a_softmax_layer_is_not_softmaxed_twice():
    rng = np.random.default_rng(7)
    model = nn.Sequential([nn.Dense(4, 3, rng=rng), nn.Softmax()])
    x = rng.standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(model.predict_proba(x), model.forward(x), rtol=1e-6)
