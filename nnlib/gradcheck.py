"""Numerical gradient checking (chainer's check_backward, simplified): float64, central
differences of sum(f(x) * g) along a random upstream gradient g, asserting."""
import numpy as np


def numerical_gradient(f, x, g, eps=1e-6):
    """d/dx sum(f(x) * g) by central differences; `x` is perturbed in place and restored."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = float(np.sum(f() * g))
        flat[i] = old - eps
        minus = float(np.sum(f() * g))
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def check_layer_gradients(layer, x, rng, atol=1e-6, rtol=1e-4, eps=1e-6):
    """Assert that layer.backward matches central differences for the input and every parameter.

    `x` must be float64 and away from kinks (ReLU zero, max-pool ties). Works for layers whose
    training-mode forward is deterministic given their state (e.g. BatchNorm, not Dropout).
    """
    if x.dtype != np.float64:
        raise ValueError(f"gradient checks need float64 input, got {x.dtype}")
    y = layer.forward(x, training=True)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g.copy())
    analytic = {"input": dx, **{k: p.grad.copy() for k, p in layer.params.items()}}
    f = lambda: layer.forward(x, training=True)
    targets = {"input": x, **{k: p.value for k, p in layer.params.items()}}
    for name, arr in targets.items():
        numeric = numerical_gradient(f, arr, g, eps)
        np.testing.assert_allclose(analytic[name], numeric, atol=atol, rtol=rtol,
                                   err_msg=f"{type(layer).__name__} gradient of {name}")
