"""nnlib.introspect: every layer's activations and eval-mode input gradients (checked against
float64 central differences of the planner's own eval forward, fused blocks included)."""
import numpy as np
import pytest

import nnlib as nn
from gradutil import assert_grad_close, numerical_grad

F64 = {"dtype": np.float64}


def _randomise_batchnorms(model, rng):
    """Running statistics and affine parameters away from their identity defaults."""
    for layer in model.layers:
        if isinstance(layer, nn.BatchNorm):
            c = layer.num_features
            layer.running_mean[...] = rng.normal(0, 0.5, c)
            layer.running_var[...] = rng.uniform(0.5, 2.0, c)
            layer.params["gamma"].value[...] = rng.uniform(0.5, 1.5, c)
            layer.params["beta"].value[...] = rng.normal(0, 0.3, c)
    return model


def _every_layer_model(rng):
    """Every built-in layer type, in the orders the eval planner fuses: Conv-BN-ReLU-pool,
    Conv-pool-BN-ReLU, Conv-ReLU-pool; then AvgPool, Sigmoid, Tanh, Flatten, Dropout, Dense, BN."""
    kw = {"rng": rng, **F64}
    return _randomise_batchnorms(nn.Sequential([
        nn.Conv2D(2, 3, 3, padding=1, **kw), nn.BatchNorm(3, **F64), nn.ReLU(), nn.MaxPool2D(2),
        nn.Conv2D(3, 4, 3, padding=1, **kw), nn.MaxPool2D(2), nn.BatchNorm(4, **F64), nn.ReLU(),
        nn.Conv2D(4, 4, 3, padding=1, **kw), nn.ReLU(), nn.MaxPool2D(2), nn.Sigmoid(),
        nn.Conv2D(4, 3, 1, **kw), nn.Tanh(), nn.AvgPool2D(2, stride=1), nn.Flatten(),
        nn.Dropout(0.5, rng=rng), nn.Dense(3, 6, **kw), nn.BatchNorm(6, **F64),
        nn.ReLU(), nn.Dense(6, 4, **kw),
    ]), rng)


@pytest.fixture
def model_and_x():
    rng = np.random.default_rng(3)
    return _every_layer_model(rng), rng.normal(size=(2, 2, 16, 16))


def _eval_scalar(model, x, g):
    return lambda: float(np.sum(model.forward(x, training=False) * g))


def test_activations_are_the_forward_pass(model_and_x):
    model, x = model_and_x
    acts = model.activations(x)
    assert [name for name, _ in acts] == [f"{i}:{type(l).__name__}"
                                          for i, l in enumerate(model.layers)]
    h = x
    for (name, a), layer in zip(acts, model.layers):
        h = layer.forward(h, training=False)
        np.testing.assert_array_equal(a, h, err_msg=name)
    np.testing.assert_allclose(acts[-1][1], model.forward(x), rtol=1e-10, atol=1e-12)


def test_activation_shapes_follow_the_summary(model_and_x):
    model, x = model_and_x
    shape = x.shape[1:]
    for (name, a), layer in zip(model.activations(x), model.layers):
        shape = layer.output_shape(shape)
        assert a.shape == (len(x),) + tuple(shape), name


def test_float32_activations_end_in_the_logits():
    rng = np.random.default_rng(0)
    model = _randomise_batchnorms(nn.Sequential([
        nn.Conv2D(1, 8, 3, padding=1, rng=rng), nn.BatchNorm(8), nn.ReLU(), nn.MaxPool2D(2),
        nn.Flatten(), nn.Dense(8 * 14 * 14, 10, rng=rng)]), rng)
    x = rng.random((5, 1, 28, 28), dtype=np.float32)
    logits = model.activations(x)[-1][1]
    assert logits.dtype == np.float32
    np.testing.assert_allclose(logits, model.forward(x), rtol=1e-4, atol=1e-5)


def test_input_gradient_matches_central_differences(model_and_x):
    model, x = model_and_x
    g = np.random.default_rng(1).standard_normal((len(x), 4))
    dx = model.input_gradient(x, g)
    assert dx.shape == x.shape
    assert_grad_close(dx, numerical_grad(_eval_scalar(model, x, g), x), "input gradient")


@pytest.mark.parametrize("layer", [
    nn.Conv2D(2, 3, 3, stride=2, padding=1, dtype=np.float64), nn.BatchNorm(2, dtype=np.float64),
    nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.MaxPool2D(3, stride=2), nn.AvgPool2D(2),
    nn.Dropout(0.4), nn.Flatten()], ids=lambda l: type(l).__name__)
def test_each_layer_type_alone(layer):
    """Each layer followed by a Dense head, so every layer type's eval backward is checked
    on its own, outside the fusions."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 2, 7, 7))
    body = nn.Sequential([layer, nn.Flatten()])
    features = body.forward(x).shape[1]
    model = _randomise_batchnorms(nn.Sequential(
        [layer, nn.Flatten(), nn.Dense(features, 3, rng=rng, **F64)]), rng)
    g = rng.standard_normal((2, 3))
    assert_grad_close(model.input_gradient(x, g), numerical_grad(_eval_scalar(model, x, g), x),
                      type(layer).__name__)


def test_class_score_gradient_is_one_logit(model_and_x):
    model, x = model_and_x
    classes = np.array([2, 0])
    dx = model.class_score_gradient(x, classes)
    for i, c in enumerate(classes):
        one_hot = np.zeros((len(x), 4))
        one_hot[i, c] = 1
        numeric = numerical_grad(_eval_scalar(model, x, one_hot), x)
        assert_grad_close(dx[i], numeric[i], f"class {c} of image {i}")
        assert np.all(numeric[1 - i] == 0)   # one image's score ignores the other image
    with pytest.raises(ValueError, match="classes must be integers in 0..3"):
        model.class_score_gradient(x, 4)


def test_loss_input_gradient(model_and_x):
    model, x = model_and_x
    labels = np.array([1, 3])
    loss = nn.SoftmaxCrossEntropy()
    value, dx = nn.loss_input_gradient(model, x, labels, loss)
    scalar = lambda: nn.SoftmaxCrossEntropy().forward(model.forward(x), labels)
    assert value == pytest.approx(scalar(), rel=1e-10)
    assert_grad_close(dx, numerical_grad(scalar, x), "loss gradient")


def test_the_model_is_left_as_it_was(model_and_x):
    """Inspecting between a training forward and its backward changes nothing: the same
    parameter gradients as without it, and Dropout draws nothing more."""
    model, x = model_and_x
    dropout = model.layers[16]
    start = dropout.rng.bit_generator.state

    def train_step(inspect):
        dropout.rng.bit_generator.state = start
        model.forward(x, training=True)
        if inspect:
            model.input_gradient(x, np.ones((2, 4)))
            model.activations(x)
        model.backward(np.ones((2, 4)))
        return [p.grad.copy() for p in model.parameters()], dropout.rng.bit_generator.state

    inspected, state_inspected = train_step(True)
    plain, state_plain = train_step(False)
    assert state_inspected == state_plain
    for a, b in zip(inspected, plain):
        np.testing.assert_array_equal(a, b)


def test_split_forward_gives_features_and_logits(model_and_x):
    from nnlib.introspect import split_forward

    model, x = model_and_x
    features, logits = split_forward(model, x, -2)
    np.testing.assert_allclose(features, model.activations(x)[-2][1], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(logits, model.layers[-1].forward(features))
    np.testing.assert_allclose(logits, model.forward(x), rtol=1e-10, atol=1e-12)


def test_bad_dy_and_unknown_layers_are_refused(model_and_x):
    model, x = model_and_x
    with pytest.raises(ValueError, match=r"dy must have the logits' shape \(2, 4\)"):
        model.input_gradient(x, np.ones((2, 3)))

    class Shuffle(nn.Layer):   # not registered per_sample: its eval gradient is unknown
        def forward(self, x, training=False):
            return x[::-1]

    with pytest.raises(ValueError, match="no eval-mode input gradient for Shuffle"):
        nn.Sequential([Shuffle()]).input_gradient(np.ones((2, 3)), np.ones((2, 3)))
