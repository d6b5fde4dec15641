"""Optimizers and learning-rate schedules against hand-written PyTorch update rules.

Each reference below is PyTorch's documented algorithm (torch.optim docs, "Algorithm" boxes),
written out for plain NumPy arrays, for three steps with fixed gradients.
"""
import copy
import math

import numpy as np
import pytest

import nnlib as nn

P0 = [np.array([[0.5, -1.2], [2.0, 0.3], [-0.7, 1.1]]), np.array([0.25, -0.4])]
GRADS = [  # GRADS[step][param]
    [np.array([[0.1, -0.3], [0.5, 0.2], [-0.4, 0.05]]), np.array([1.0, -0.2])],
    [np.array([[-0.2, 0.4], [0.1, -0.6], [0.3, 0.3]]), np.array([0.5, 0.7])],
    [np.array([[0.05, 0.1], [-0.3, 0.2], [0.6, -0.1]]), np.array([-0.8, 0.1])],
]


def make_params(dtype=np.float64, values=P0):
    """Two Params (3, 2) and (2,), taken from a Dense layer so no Param constructor is assumed."""
    layer = nn.Dense(3, 2, rng=np.random.default_rng(0), dtype=dtype)
    W, b = layer.params["W"], layer.params["b"]
    W.value[...] = values[0]
    b.value[...] = values[1]
    return [W, b]


def run(opt_cls, kwargs, steps=3):
    params = make_params()
    opt = opt_cls(params, **kwargs)
    history = []
    for k in range(steps):
        for p, g in zip(params, GRADS[k]):
            p.grad[...] = g
        opt.step()
        history.append([p.value.copy() for p in params])
    return history


# ------------------------------------------------------------- references (PyTorch algorithms)

def ref_sgd(lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, l1=0.0):
    ps = [p.copy() for p in P0]
    bufs = [None, None]
    out = []
    for t in range(3):
        for i in range(2):
            g = GRADS[t][i] + weight_decay * ps[i] + l1 * np.sign(ps[i])
            if momentum != 0:
                if t == 0:
                    bufs[i] = g.copy()
                else:
                    bufs[i] = momentum * bufs[i] + (1 - dampening) * g
                g = g + momentum * bufs[i] if nesterov else bufs[i]
            ps[i] = ps[i] - lr * g
        out.append([p.copy() for p in ps])
    return out


def ref_adam(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False, l1=0.0):
    b1, b2 = betas
    ps = [p.copy() for p in P0]
    m = [np.zeros_like(p) for p in P0]
    v = [np.zeros_like(p) for p in P0]
    out = []
    for t in range(1, 4):
        for i in range(2):
            g = GRADS[t - 1][i] + l1 * np.sign(ps[i])
            if decoupled:
                ps[i] = ps[i] * (1 - lr * weight_decay)          # AdamW
            else:
                g = g + weight_decay * ps[i]                     # Adam: L2 added to the gradient
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat = m[i] / (1 - b1 ** t)
            v_hat = v[i] / (1 - b2 ** t)
            ps[i] = ps[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append([p.copy() for p in ps])
    return out


def ref_rmsprop(lr, alpha=0.99, eps=1e-8):
    ps = [p.copy() for p in P0]
    v = [np.zeros_like(p) for p in P0]
    out = []
    for t in range(3):
        for i in range(2):
            g = GRADS[t][i]
            v[i] = alpha * v[i] + (1 - alpha) * g * g
            ps[i] = ps[i] - lr * g / (np.sqrt(v[i]) + eps)
        out.append([p.copy() for p in ps])
    return out


def ref_adagrad(lr, eps=1e-10):
    ps = [p.copy() for p in P0]
    s = [np.zeros_like(p) for p in P0]
    out = []
    for t in range(3):
        for i in range(2):
            g = GRADS[t][i]
            s[i] = s[i] + g * g
            ps[i] = ps[i] - lr * g / (np.sqrt(s[i]) + eps)
        out.append([p.copy() for p in ps])
    return out


def ref_adadelta(lr=1.0, rho=0.9, eps=1e-6):
    ps = [p.copy() for p in P0]
    v = [np.zeros_like(p) for p in P0]
    u = [np.zeros_like(p) for p in P0]
    out = []
    for t in range(3):
        for i in range(2):
            g = GRADS[t][i]
            v[i] = rho * v[i] + (1 - rho) * g * g
            delta = np.sqrt(u[i] + eps) / np.sqrt(v[i] + eps) * g
            u[i] = rho * u[i] + (1 - rho) * delta * delta
            ps[i] = ps[i] - lr * delta
        out.append([p.copy() for p in ps])
    return out


CASES = {
    "sgd": (nn.SGD, dict(lr=0.1), ref_sgd(0.1)),
    "sgd_momentum": (nn.SGD, dict(lr=0.1, momentum=0.9), ref_sgd(0.1, momentum=0.9)),
    "sgd_nesterov": (nn.SGD, dict(lr=0.1, momentum=0.9, nesterov=True),
                     ref_sgd(0.1, momentum=0.9, nesterov=True)),
    "sgd_weight_decay": (nn.SGD, dict(lr=0.1, weight_decay=0.01), ref_sgd(0.1, weight_decay=0.01)),
    "sgd_momentum_wd": (nn.SGD, dict(lr=0.05, momentum=0.8, weight_decay=0.1),
                        ref_sgd(0.05, momentum=0.8, weight_decay=0.1)),
    "adam": (nn.Adam, dict(lr=0.01), ref_adam(0.01)),
    "adam_betas": (nn.Adam, dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6),
                   ref_adam(0.02, betas=(0.8, 0.99), eps=1e-6)),
    "adam_weight_decay": (nn.Adam, dict(lr=0.01, weight_decay=0.1),
                          ref_adam(0.01, weight_decay=0.1)),
    "adamw": (nn.AdamW, dict(lr=0.01, weight_decay=0.1),
              ref_adam(0.01, weight_decay=0.1, decoupled=True)),
    "rmsprop": (nn.RMSProp, dict(lr=0.01), ref_rmsprop(0.01)),
    "rmsprop_alpha": (nn.RMSProp, dict(lr=0.03, alpha=0.9, eps=1e-6),
                      ref_rmsprop(0.03, alpha=0.9, eps=1e-6)),
    "adagrad": (nn.AdaGrad, dict(lr=0.1), ref_adagrad(0.1)),
    "adadelta": (nn.AdaDelta, dict(lr=1.0), ref_adadelta()),
    "adadelta_rho": (nn.AdaDelta, dict(lr=0.5, rho=0.95, eps=1e-5),
                     ref_adadelta(0.5, rho=0.95, eps=1e-5)),
    "sgd_l1": (nn.SGD, dict(lr=0.1, momentum=0.9, l1=0.05), ref_sgd(0.1, momentum=0.9, l1=0.05)),
    "adam_l1": (nn.Adam, dict(lr=0.01, l1=0.05), ref_adam(0.01, l1=0.05)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_first_three_steps_match_pytorch_rule(case):
    opt_cls, kwargs, expected = CASES[case]
    got = run(opt_cls, kwargs)
    for step in range(3):
        for i in range(2):
            np.testing.assert_allclose(got[step][i], expected[step][i], rtol=1e-12, atol=1e-14,
                                       err_msg=f"step {step + 1}, param {i}")
    # the step must actually move the parameters
    assert not np.allclose(got[2][0], P0[0])


def test_adamw_default_weight_decay_is_pytorch_default():
    got = run(nn.AdamW, dict(lr=0.01))
    expected = ref_adam(0.01, weight_decay=1e-2, decoupled=True)
    np.testing.assert_allclose(got[2][0], expected[2][0], rtol=1e-12)


def test_adamw_differs_from_adam_with_l2():
    a = run(nn.Adam, dict(lr=0.01, weight_decay=0.1))
    w = run(nn.AdamW, dict(lr=0.01, weight_decay=0.1))
    assert not np.allclose(a[2][0], w[2][0])


@pytest.mark.parametrize("opt_cls", [nn.SGD, nn.Adam, nn.AdamW, nn.RMSProp, nn.AdaGrad,
                                     nn.AdaDelta])
def test_updates_in_place_and_keep_float32(opt_cls):
    params = make_params(np.float32)
    arrays = [p.value for p in params]
    opt = opt_cls(params, lr=0.1)
    for p, g in zip(params, GRADS[0]):
        p.grad[...] = g
    opt.step()
    for p, a in zip(params, arrays):
        assert p.value is a, "optimizer must update the parameter array in place"
        assert p.value.dtype == np.float32
    assert not np.allclose(params[0].value, P0[0])
    opt.zero_grad()
    for p in params:
        assert p.grad.dtype == np.float32 and p.grad.shape == p.value.shape
        np.testing.assert_array_equal(p.grad, 0)


BAD_HYPER = [
    (nn.SGD, dict(lr=-0.1), "lr"),
    (nn.SGD, dict(lr=0.1, momentum=-0.5), "momentum"),
    (nn.SGD, dict(lr=0.1, nesterov=True), "nesterov"),
    (nn.SGD, dict(lr=0.1, weight_decay=-1.0), "weight_decay"),
    (nn.Adam, dict(lr=-1e-3), "lr"),
    (nn.Adam, dict(betas=(1.0, 0.999)), "betas"),
    (nn.Adam, dict(betas=(0.9, -0.1)), "betas"),
    (nn.Adam, dict(eps=-1e-8), "eps"),
    (nn.AdamW, dict(weight_decay=-0.01), "weight_decay"),
    (nn.RMSProp, dict(alpha=1.5), "alpha"),
    (nn.AdaGrad, dict(lr=-0.01), "lr"),
    (nn.AdaDelta, dict(rho=1.5), "rho"),
]


@pytest.mark.parametrize("opt_cls,kwargs,name", BAD_HYPER,
                         ids=[f"{c.__name__}-{n}-{i}" for i, (c, _, n) in enumerate(BAD_HYPER)])
def test_hyperparameters_validated_up_front(opt_cls, kwargs, name):
    with pytest.raises(ValueError, match=name):
        opt_cls(make_params(), **kwargs)


# ------------------------------------------------------------- resume bit-for-bit

def _grad_for(p, k):
    return np.cos(3 * p.value + k) + 0.1 * k


def _steps(opt, params, ks):
    for k in ks:
        for p in params:
            p.grad[...] = _grad_for(p, k)
        opt.step()


RESUME_CASES = [
    (nn.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    (nn.SGD, dict(lr=0.05, momentum=0.5)),
    (nn.Adam, dict(lr=0.01, weight_decay=1e-3)),
    (nn.AdamW, dict(lr=0.01, weight_decay=0.05)),
    (nn.RMSProp, dict(lr=0.01)),
    (nn.AdaGrad, dict(lr=0.1)),
    (nn.AdaDelta, dict(lr=1.0)),
]


@pytest.mark.parametrize("opt_cls,kwargs", RESUME_CASES,
                         ids=[f"{c.__name__}{i}" for i, (c, _) in enumerate(RESUME_CASES)])
def test_state_dict_resume_is_bit_for_bit(opt_cls, kwargs):
    params = make_params()
    opt = opt_cls(params, **kwargs)
    _steps(opt, params, range(5))
    saved_state = copy.deepcopy(opt.state_dict())
    saved_values = [p.value.copy() for p in params]
    _steps(opt, params, range(5, 10))

    params2 = make_params(values=saved_values)
    opt2 = opt_cls(params2, **kwargs)
    opt2.load_state_dict(saved_state)
    _steps(opt2, params2, range(5, 10))
    for a, b in zip(params, params2):
        assert np.array_equal(a.value, b.value)


def test_state_dict_is_a_snapshot():
    params = make_params()
    opt = nn.Adam(params, lr=0.01)
    _steps(opt, params, range(2))
    state = opt.state_dict()
    frozen = copy.deepcopy(state)
    _steps(opt, params, range(2, 4))

    def flat(d):
        out = []
        for v in (d.values() if isinstance(d, dict) else d):
            if isinstance(v, (dict, list, tuple)):
                out.extend(flat(v))
            elif isinstance(v, np.ndarray):
                out.append(v)
        return out

    arrays, frozen_arrays = flat(state), flat(frozen)
    assert len(arrays) >= 4   # exp_avg and exp_avg_sq for two parameters
    for a, b in zip(arrays, frozen_arrays):
        assert np.array_equal(a, b), "state_dict() returned live arrays that later steps change"


# ------------------------------------------------------------- learning-rate schedules

def _lrs(sched, opt, n):
    out = [opt.lr]
    for _ in range(n):
        sched.step()
        out.append(opt.lr)
    return out


def test_step_lr():
    opt = nn.SGD(make_params(), lr=0.1)
    sched = nn.StepLR(opt, step_size=2, gamma=0.5)
    assert not sched.per_batch
    np.testing.assert_allclose(_lrs(sched, opt, 6),
                               [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125], rtol=1e-12)


def test_exponential_lr():
    opt = nn.Adam(make_params(), lr=0.1)
    sched = nn.ExponentialLR(opt, gamma=0.9)
    assert not sched.per_batch
    np.testing.assert_allclose(_lrs(sched, opt, 4), [0.1, 0.09, 0.081, 0.0729, 0.06561],
                               rtol=1e-12)


def test_cosine_annealing_lr():
    opt = nn.SGD(make_params(), lr=0.1)
    sched = nn.CosineAnnealingLR(opt, T_max=4, eta_min=0.01)
    assert not sched.per_batch
    expected = [0.01 + 0.09 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)]
    # = 0.1, 0.0868198, 0.055, 0.0231802, 0.01
    np.testing.assert_allclose(_lrs(sched, opt, 4), expected, rtol=1e-12)
    assert expected[2] == pytest.approx(0.055)


def test_one_cycle_lr():
    opt = nn.Adam(make_params(), lr=0.123)   # OneCycle overrides the optimizer's lr at once
    sched = nn.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    assert sched.per_batch
    initial, low = 1.0 / 25, 1.0 / 25 / 1e4           # div_factor=25, final_div_factor=1e4
    up_end, down_end = 0.3 * 10 - 1, 9.0              # pct_start=0.3: phase ends at step 2

    def cos_anneal(start, end, pct):
        return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)

    expected = [cos_anneal(initial, 1.0, t / up_end) if t <= up_end
                else cos_anneal(1.0, low, (t - up_end) / (down_end - up_end)) for t in range(10)]
    got = _lrs(sched, opt, 9)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[0] == pytest.approx(0.04) and got[1] == pytest.approx(0.52)
    assert got[2] == pytest.approx(1.0) and got[9] == pytest.approx(4e-6)


@pytest.mark.parametrize("make_sched", [
    lambda o: nn.StepLR(o, step_size=3, gamma=0.5),
    lambda o: nn.ExponentialLR(o, gamma=0.8),
    lambda o: nn.CosineAnnealingLR(o, T_max=10, eta_min=1e-4),
    lambda o: nn.OneCycleLR(o, max_lr=0.05, total_steps=12),
], ids=["step", "exp", "cosine", "onecycle"])
def test_scheduler_and_optimizer_resume_bit_for_bit(make_sched):
    params = make_params()
    opt = nn.SGD(params, lr=0.02, momentum=0.9)
    sched = make_sched(opt)
    for k in range(5):
        _steps(opt, params, [k])
        sched.step()
    saved = (copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict()),
             [p.value.copy() for p in params])
    lrs_a = []
    for k in range(5, 10):
        _steps(opt, params, [k])
        sched.step()
        lrs_a.append(opt.lr)

    params2 = make_params(values=saved[2])
    opt2 = nn.SGD(params2, lr=0.02, momentum=0.9)
    sched2 = make_sched(opt2)
    opt2.load_state_dict(saved[0])
    sched2.load_state_dict(saved[1])
    lrs_b = []
    for k in range(5, 10):
        _steps(opt2, params2, [k])
        sched2.step()
        lrs_b.append(opt2.lr)
    assert lrs_a == lrs_b
    for a, b in zip(params, params2):
        assert np.array_equal(a.value, b.value)
