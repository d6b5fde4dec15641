"""Layer behaviour beyond gradients: dtype preservation, dy untouched, BatchNorm running
statistics, inverted dropout, argument validation, weight initialisation, no global RNG."""
import numpy as np
import pytest

import nnlib as nn


def _layers(dtype):
    """(layer, input shape) pairs covering every layer type."""
    r = np.random.default_rng
    return [
        (nn.Dense(6, 4, rng=r(0), dtype=dtype), (3, 6)),
        (nn.Conv2D(2, 3, 3, stride=2, padding=1, rng=r(1), dtype=dtype), (2, 2, 7, 7)),
        (nn.Conv2D(2, 3, 1, rng=r(2), dtype=dtype), (2, 2, 5, 5)),
        (nn.MaxPool2D(2), (2, 3, 7, 7)),
        (nn.MaxPool2D(3, stride=1), (2, 3, 7, 7)),
        (nn.AvgPool2D(2), (2, 3, 7, 7)),
        (nn.AvgPool2D(3, stride=2), (2, 3, 7, 7)),
        (nn.Flatten(), (2, 3, 4, 4)),
        (nn.ReLU(), (2, 3, 4, 4)),
        (nn.Sigmoid(), (2, 3, 4, 4)),
        (nn.Tanh(), (5, 7)),
        (nn.Dropout(0.3, rng=r(3)), (2, 3, 4, 4)),
        (nn.BatchNorm(3, dtype=dtype), (5, 3)),
        (nn.BatchNorm(3, dtype=dtype), (2, 3, 4, 4)),
    ]


LAYER_IDS = ["Dense", "Conv3s2", "Conv1", "MaxPool2", "MaxPool3s1", "AvgPool2", "AvgPool3s2",
             "Flatten", "ReLU", "Sigmoid", "Tanh", "Dropout", "BatchNorm2d", "BatchNorm4d"]


@pytest.mark.parametrize("index", range(len(LAYER_IDS)), ids=LAYER_IDS)
@pytest.mark.parametrize("training", [True, False])
def test_float32_in_float32_out(index, training):
    layer, shape = _layers(np.float32)[index]
    rng = np.random.default_rng(index)
    x = rng.standard_normal(shape).astype(np.float32)
    y = layer.forward(x, training=training)
    assert y.dtype == np.float32, f"forward upcast to {y.dtype}"
    for p in layer.params.values():
        assert p.value.dtype == np.float32 and p.grad.dtype == np.float32
    if training:
        dx = layer.backward(rng.standard_normal(y.shape).astype(np.float32))
        assert dx.dtype == np.float32, f"backward upcast to {dx.dtype}"
        assert dx.shape == shape
        for name, p in layer.params.items():
            assert p.grad.dtype == np.float32, name
            assert p.grad.shape == p.value.shape, name


@pytest.mark.parametrize("index", range(len(LAYER_IDS)), ids=LAYER_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_never_writes_into_dy(index, dtype):
    layer, shape = _layers(dtype)[index]
    rng = np.random.default_rng(100 + index)
    x = (rng.standard_normal(shape) + 0.05).astype(dtype)
    y = layer.forward(x, training=True)
    dy = rng.standard_normal(y.shape).astype(dtype)
    keep = dy.copy()
    dx = layer.backward(dy)
    assert dx.shape == shape
    np.testing.assert_array_equal(dy, keep)


def test_sequential_and_loss_backward_leave_inputs_alone():
    rng = np.random.default_rng(0)
    model = nn.Sequential([nn.Conv2D(1, 2, 3, rng=rng), nn.BatchNorm(2), nn.ReLU(), nn.MaxPool2D(2),
                           nn.Flatten(), nn.Dense(8, 3, rng=rng)])
    x = rng.standard_normal((4, 1, 6, 6)).astype(np.float32)
    x_keep = x.copy()
    logits = model.forward(x, training=True)
    assert logits.dtype == np.float32
    loss = nn.SoftmaxCrossEntropy(label_smoothing=0.1)
    labels = np.array([0, 1, 2, 1])
    loss.forward(logits, labels)
    d = loss.backward()
    assert d.dtype == np.float32
    d_keep = d.copy()
    dx = model.backward(d)
    assert dx.dtype == np.float32
    np.testing.assert_array_equal(d, d_keep)
    np.testing.assert_array_equal(x, x_keep)


# ---------------------------------------------------------------- BatchNorm statistics

@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5, 5)])
def test_batchnorm_training_output_and_running_stats(shape):
    rng = np.random.default_rng(1)
    c = shape[1]
    bn = nn.BatchNorm(c, momentum=0.2, eps=1e-5, dtype=np.float64)
    gamma = rng.uniform(0.5, 2, c)
    beta = rng.standard_normal(c)
    bn.params["gamma"].value[...] = gamma
    bn.params["beta"].value[...] = beta
    np.testing.assert_array_equal(bn.running_mean, np.zeros(c))
    np.testing.assert_array_equal(bn.running_var, np.ones(c))
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    bshape = (1, c) if len(shape) == 2 else (1, c, 1, 1)
    rm, rv = np.zeros(c), np.ones(c)
    for step in range(3):
        x = rng.standard_normal(shape) * (step + 2) + 3 * step - 1
        y = bn.forward(x, training=True)
        mean, var = x.mean(axis=axes), x.var(axis=axes)          # biased, used for the output
        expect = (x - mean.reshape(bshape)) / np.sqrt(var.reshape(bshape) + 1e-5)
        expect = expect * gamma.reshape(bshape) + beta.reshape(bshape)
        np.testing.assert_allclose(y, expect, rtol=1e-10, atol=1e-10)
        m = x.size // c
        rm = 0.8 * rm + 0.2 * mean
        rv = 0.8 * rv + 0.2 * var * m / (m - 1)                  # unbiased for the running var
        np.testing.assert_allclose(bn.running_mean, rm, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(bn.running_var, rv, rtol=1e-12, atol=1e-12)
    x = rng.standard_normal(shape)
    y = bn.forward(x, training=False)
    expect = (x - rm.reshape(bshape)) / np.sqrt(rv.reshape(bshape) + 1e-5)
    np.testing.assert_allclose(y, expect * gamma.reshape(bshape) + beta.reshape(bshape),
                               rtol=1e-10, atol=1e-10)
    # eval mode does not touch the running statistics
    np.testing.assert_allclose(bn.running_mean, rm, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.running_var, rv, rtol=1e-12, atol=1e-12)


def test_batchnorm_float32_large_batch_statistics_accurate():
    # Batch statistics are accumulated in float64. A constant offset of 1000 over 100k
    # values per channel is where float32 summation goes wrong.
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((400, 2, 16, 16)) * 0.01 + 1000).astype(np.float32)
    bn = nn.BatchNorm(2, momentum=1.0)
    y = bn.forward(x, training=True)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(bn.running_mean, x64.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var, x64.var(axis=(0, 2, 3), ddof=1), rtol=1e-3)
    yy = y.astype(np.float64)
    np.testing.assert_allclose(yy.mean(axis=(0, 2, 3)), 0, atol=1e-2)
    var = x64.var(axis=(0, 2, 3))
    np.testing.assert_allclose(yy.std(axis=(0, 2, 3)), np.sqrt(var / (var + 1e-5)), rtol=1e-3)


# ---------------------------------------------------------------- Dropout

def test_dropout_inverted_scaling():
    p = 0.3
    layer = nn.Dropout(p, rng=np.random.default_rng(0))
    x = np.full((200, 1000), 2.0, dtype=np.float32)
    y = layer.forward(x, training=True)
    assert y.dtype == np.float32
    assert abs(y.mean() - 2.0) < 0.02
    assert abs((y == 0).mean() - p) < 0.01
    np.testing.assert_allclose(np.unique(y), [0.0, 2.0 / (1 - p)], rtol=1e-6)
    np.testing.assert_array_equal(layer.forward(x, training=False), x)


def test_dropout_masks_differ_between_calls_and_are_seeded():
    x = np.ones((50, 50))
    a = nn.Dropout(0.5, rng=np.random.default_rng(7))
    b = nn.Dropout(0.5, rng=np.random.default_rng(7))
    ya1, ya2 = a.forward(x, training=True), a.forward(x, training=True)
    assert not np.array_equal(ya1, ya2)
    np.testing.assert_array_equal(b.forward(x, training=True), ya1)


def test_no_global_numpy_rng_used():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    rng = np.random.default_rng(0)
    layers = [nn.Conv2D(1, 2, 3, rng=rng), nn.Dense(4, 2, rng=rng), nn.Dropout(0.5, rng=rng),
              nn.Conv2D(1, 2, 3), nn.Dense(4, 2), nn.Dropout(0.5)]
    layers[2].forward(np.ones((3, 4)), training=True)
    layers[5].forward(np.ones((3, 4)), training=True)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


# ---------------------------------------------------------------- argument validation

BAD_ARGS = [
    (lambda: nn.Conv2D(1, 8, 0), "kernel_size"),
    (lambda: nn.Conv2D(1, 8, -3), "kernel_size"),
    (lambda: nn.Conv2D(0, 8, 3), "in_channels"),
    (lambda: nn.Conv2D(1, 0, 3), "out_channels"),
    (lambda: nn.Conv2D(1, 8, 3, stride=0), "stride"),
    (lambda: nn.Conv2D(1, 8, 3, padding=-1), "padding"),
    (lambda: nn.Conv2D(1, 8, 3, init="bogus"), "init"),
    (lambda: nn.Dense(0, 3), "in_features"),
    (lambda: nn.Dense(3, -1), "out_features"),
    (lambda: nn.MaxPool2D(0), "kernel_size"),
    (lambda: nn.MaxPool2D(2, stride=0), "stride"),
    (lambda: nn.AvgPool2D(-2), "kernel_size"),
    (lambda: nn.Dropout(-0.1), "p"),
    (lambda: nn.Dropout(1.5), "p"),
    (lambda: nn.BatchNorm(0), "num_features"),
    (lambda: nn.BatchNorm(4, momentum=-0.5), "momentum"),
    (lambda: nn.BatchNorm(4, eps=-1.0), "eps"),
    (lambda: nn.SoftmaxCrossEntropy(label_smoothing=-0.1), "label_smoothing"),
]


@pytest.mark.parametrize("make,name", BAD_ARGS, ids=[f"{i}-{n}" for i, (_, n) in enumerate(BAD_ARGS)])
def test_constructors_validate_arguments(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_conv2d_error_names_the_received_value():
    with pytest.raises(ValueError) as err:
        nn.Conv2D(1, 8, 0)
    assert "kernel_size" in str(err.value) and "0" in str(err.value)


# ---------------------------------------------------------------- initialisation

@pytest.mark.parametrize("init", ["he", "glorot"])
def test_dense_init_std(init):
    layer = nn.Dense(800, 400, init=init, rng=np.random.default_rng(0), dtype=np.float64)
    W = layer.params["W"].value
    expected = np.sqrt(2 / 800) if init == "he" else np.sqrt(2 / (800 + 400))
    assert W.std() == pytest.approx(expected, rel=0.02)
    assert abs(W.mean()) < 0.05 * expected
    np.testing.assert_array_equal(layer.params["b"].value, 0)


@pytest.mark.parametrize("init", ["he", "glorot"])
def test_conv_init_std_uses_receptive_field_fans(init):
    layer = nn.Conv2D(32, 64, 5, init=init, rng=np.random.default_rng(1), dtype=np.float64)
    W = layer.params["W"].value
    fan_in, fan_out = 32 * 25, 64 * 25
    expected = np.sqrt(2 / fan_in) if init == "he" else np.sqrt(2 / (fan_in + fan_out))
    assert W.std() == pytest.approx(expected, rel=0.02)
    assert abs(W.mean()) < 0.05 * expected
    np.testing.assert_array_equal(layer.params["b"].value, 0)


def test_init_is_reproducible_from_the_generator():
    a = nn.Conv2D(3, 4, 3, rng=np.random.default_rng(5)).params["W"].value
    b = nn.Conv2D(3, 4, 3, rng=np.random.default_rng(5)).params["W"].value
    c = nn.Conv2D(3, 4, 3, rng=np.random.default_rng(6)).params["W"].value
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("make, shape", [
    (lambda rng: nn.Dense(12, 5, rng=rng), (4, 12)),
    (lambda rng: nn.Conv2D(2, 3, 3, padding=1, rng=rng), (4, 2, 6, 6)),
])
def test_backward_without_input_gradient_fills_the_same_parameter_gradients(make, shape):
    """need_dx=False (the first layer's step in training) skips dx only."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    grads = []
    for need_dx in (True, False):
        layer = make(np.random.default_rng(1))
        y = layer.forward(x, training=True)
        dx = layer.backward(np.ones_like(y), need_dx=need_dx)
        assert (dx is None) == (not need_dx) and (dx is None or dx.shape == x.shape)
        grads.append([layer.params[name].grad.copy() for name in ("W", "b")])
    for with_dx, without in zip(*grads):
        np.testing.assert_array_equal(with_dx, without)
