"""Training-mode fusion in Sequential: a Conv2D followed by a 2x2 MaxPool2D (and a ReLU) runs as
one block, with the same numbers as the layers run one by one and correct gradients; Dense's
threaded GEMMs give the same numbers for any thread count."""
import numpy as np
import pytest

import nnlib as nn
from nnlib.runtime.constants import GROUP
from nnlib.runtime.steps import ConvPoolStep
from nnlib.runtime.threads import set_num_threads

from gradutil import check_layer

F64 = np.float64


class _AsLayer:
    """A Sequential seen through the layer interface that check_layer drives."""

    def __init__(self, model):
        self.model, self.params = model, dict(model.named_parameters())

    def forward(self, x, training=False):
        return self.model.forward(x, training=training)

    def backward(self, dy):
        return self.model.backward(dy)


def _blocks(dtype, cin=2):
    prng = np.random.default_rng(11)
    return {
        "conv-relu-pool": [nn.Conv2D(cin, 3, 3, padding=1, rng=prng, dtype=dtype), nn.ReLU(),
                           nn.MaxPool2D(2)],
        "conv-pool-bn-relu": [nn.Conv2D(cin, 3, 3, padding=1, rng=prng, dtype=dtype),
                              nn.MaxPool2D(2), nn.BatchNorm(3, dtype=dtype), nn.ReLU()],
        "conv-pool": [nn.Conv2D(cin, 3, 5, padding=2, rng=prng, dtype=dtype), nn.MaxPool2D(2)],
    }


def _declared_order(layers, x, dy):
    """Forward in declared order and backward in reverse, layer by layer (no fusion)."""
    for layer in layers:
        x = layer.forward(x, training=True)
    for layer in reversed(layers):
        dy = layer.backward(dy)
    return x, dy


@pytest.mark.parametrize("name", ["conv-relu-pool", "conv-pool-bn-relu", "conv-pool"])
@pytest.mark.parametrize("size", [8, 7])     # 7: odd conv output, the last row/column is dropped
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_block_gives_the_layer_by_layer_numbers(name, size, threads, restore_threads):
    set_num_threads(threads)
    rng = np.random.default_rng(size)
    n = GROUP + 5                                 # several reduction groups and shards
    x = rng.standard_normal((n, 2, size, size)).astype(np.float32)
    x[0, :, :2, :2] = -3.0                         # windows whose every value is negative
    model = nn.Sequential(_blocks(np.float32)[name])
    y = model.forward(x, training=True)
    steps = model._plan.steps
    assert isinstance(steps[0], ConvPoolStep)                     # the block ran fused
    assert len(steps) < len(model.layers)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = model.backward(dy)
    grads = [p.grad.copy() for p in model.parameters()]

    reference = nn.Sequential(_blocks(np.float32)[name])
    y_ref, dx_ref = _declared_order(reference.layers, x, dy)
    assert np.array_equal(y, y_ref)
    assert np.array_equal(dx, dx_ref)
    for g, p in zip(grads, reference.parameters()):
        assert np.array_equal(g, p.grad)


@pytest.mark.parametrize("name", ["conv-relu-pool", "conv-pool-bn-relu", "conv-pool"])
@pytest.mark.parametrize("threads", [1, 3])
def test_fused_block_gradients(name, threads, restore_threads):
    set_num_threads(threads)
    rng = np.random.default_rng(21)
    model = nn.Sequential(_blocks(F64)[name])
    model.layers[0].params["b"].value[...] = rng.standard_normal(3) * 0.3
    assert model.layers[0].params["W"].value.dtype == F64
    layer = _AsLayer(model)
    # a BatchNorm after the pool cancels the conv bias: its true gradient is ~0 (nothing to check)
    names = [k for k in layer.params if not (name == "conv-pool-bn-relu" and k == "0.b")]
    check_layer(layer, rng.standard_normal((GROUP + 2, 2, 5, 5)), rng, param_names=names,
                rtol=1e-4)


def test_first_block_skips_its_input_gradient_but_fills_the_weight_gradients():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 1, 8, 8)).astype(np.float32)
    model = nn.Sequential(_blocks(np.float32, cin=1)["conv-relu-pool"])
    dy = rng.standard_normal(model.forward(x, training=True).shape).astype(np.float32)
    assert model.backward(dy, input_grad=False) is None
    reference = nn.Sequential(_blocks(np.float32, cin=1)["conv-relu-pool"])
    _declared_order(reference.layers, x, dy)
    for p, q in zip(model.parameters(), reference.parameters()):
        assert np.array_equal(p.grad, q.grad)


def test_a_too_small_input_still_gets_the_pool_error():
    model = nn.Sequential(_blocks(np.float32)["conv-pool"])
    with pytest.raises(ValueError, match="MaxPool2D"):
        model.forward(np.zeros((1, 2, 1, 1), np.float32), training=True)


def test_dense_gives_the_same_numbers_on_any_thread_count(restore_threads):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((130, 400)).astype(np.float32)   # three row blocks, one partial
    dy = rng.standard_normal((130, 48)).astype(np.float32)
    assert 130 * 400 * 48 >= nn.Dense.THREAD_MIN_MACS          # big enough to use the threads
    results = []
    for t in (1, 2, 3):
        set_num_threads(t)
        layer = nn.Dense(400, 48, rng=np.random.default_rng(1))
        y = layer.forward(x, training=True)
        dx = layer.backward(dy)
        results.append((y, dx, layer.params["W"].grad.copy(), layer.params["b"].grad.copy()))
    expected_y = x @ nn.Dense(400, 48, rng=np.random.default_rng(1)).params["W"].value
    np.testing.assert_allclose(results[0][0], expected_y, rtol=1e-5, atol=1e-5)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("threads", [1, 2])
def test_eval_conv_pool_batchnorm_relu_fused_equals_the_layers_one_by_one(relu, threads):
    """Conv -> MaxPool -> BatchNorm [-> ReLU] (the contest presets' block) in eval mode: the
    BatchNorm and ReLU applied to each pooled chunk give exactly the separate layers' numbers."""
    rng = np.random.default_rng(9)
    bn = nn.BatchNorm(6)
    bn.running_mean[...] = rng.standard_normal(6)
    bn.running_var[...] = rng.random(6) + 0.5
    bn.params["gamma"].value[...] = rng.standard_normal(6)   # negative scales too
    layers = [nn.Conv2D(3, 6, 3, padding=1, rng=rng), nn.MaxPool2D(2), bn] + [nn.ReLU()] * relu
    model = nn.Sequential(layers + [nn.Flatten(), nn.Dense(6 * 16, 4, rng=rng)])
    x = rng.standard_normal((150, 3, 8, 8)).astype(np.float32)
    set_num_threads(threads)
    expected = x
    for layer in model.layers:
        expected = layer.forward(expected, training=False)
    assert np.array_equal(model.forward(x, training=False), expected)
