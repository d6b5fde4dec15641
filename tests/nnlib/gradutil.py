"""The tests' own gradient checker (does not trust nnlib.check_gradients).

Modelled on chainer's gradient_check.check_backward: float64, central differences, and a random
upstream gradient g, so that the checked scalar is sum(f(x) * g) and every output element matters.
"""
import numpy as np

EPS = 1e-6


def numerical_grad(scalar_fn, arr, eps=EPS):
    """d scalar_fn() / d arr by central differences, perturbing `arr` in place (restored after)."""
    assert arr.dtype == np.float64, "gradient checks run in float64"
    return numerical_grad_at(scalar_fn, arr, range(arr.size), eps).reshape(arr.shape)


def numerical_grad_at(scalar_fn, arr, indices, eps=EPS):
    """Central differences of scalar_fn() at the flat `indices` of arr (perturbed in place)."""
    flat = arr.reshape(-1)          # a view: perturbations reach the array the layer holds
    assert np.shares_memory(flat, arr)
    out = np.zeros(len(indices), dtype=np.float64)
    for k, i in enumerate(indices):
        old = flat[i]
        flat[i] = old + eps
        plus = scalar_fn()
        flat[i] = old - eps
        minus = scalar_fn()
        flat[i] = old
        out[k] = (plus - minus) / (2 * eps)
    return out


def assert_grad_close(analytic, numeric, name, rtol=1e-5, atol=1e-6):
    analytic = np.asarray(analytic)
    assert analytic.shape == numeric.shape, f"{name}: shape {analytic.shape} != {numeric.shape}"
    assert np.all(np.isfinite(analytic)), f"{name}: non-finite gradient"
    # A check that compares zeros with zeros proves nothing: insist on a real signal.
    assert np.abs(numeric).max() > 1e-4, f"{name}: numerical gradient is (almost) zero"
    np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol, err_msg=name)


def check_layer(layer, x, rng, param_names=None, training=True, rtol=1e-5, atol=1e-6):
    """Check dx and the gradients of `param_names` (default: all params) of `layer` at x."""
    x = np.array(x, dtype=np.float64)
    y = layer.forward(x, training=training)
    g = rng.standard_normal(y.shape)
    for p in layer.params.values():
        p.grad[...] = 0        # so both "assign" and "accumulate" semantics give the true grad
    dx = np.array(layer.backward(g.copy()))
    analytic = {name: np.array(p.grad) for name, p in layer.params.items()}

    def scalar():
        return float(np.sum(layer.forward(x, training=training) * g))

    assert_grad_close(dx, numerical_grad(scalar, x), "dx", rtol, atol)
    names = list(layer.params) if param_names is None else param_names
    for name in names:
        p = layer.params[name]
        assert p.value.dtype == np.float64
        assert_grad_close(analytic[name], numerical_grad(scalar, p.value), name, rtol, atol)
    return dx
