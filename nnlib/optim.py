"""Optimizers with PyTorch's documented update rules and argument names.

One optimizer updates the whole model; per-parameter state is created lazily on the first step
and updated in place. `weight_decay` is the L2 penalty added to the gradient (AdamW: decoupled);
`l1` adds l1 * sign(p) to the gradient (an extension; PyTorch has no such argument).
State can be saved with `state_dict()` and restored with `load_state_dict()` to resume exactly.
"""
import numpy as np

from .checks import check as _check
from .runtime.constants import ELEMENTWISE_MIN
from .runtime.threads import get_num_threads, run_sharded


class _Slice:
    """A flat slice of a parameter, standing in for the Param in an element-wise update."""

    def __init__(self, value):
        self.value = value


class Optimizer:
    state_names = ()

    def __init__(self, params, lr, weight_decay=0.0, l1=0.0):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        _check(isinstance(lr, (int, float)) and lr >= 0, "lr", lr, ">= 0")
        _check(isinstance(weight_decay, (int, float)) and weight_decay >= 0, "weight_decay",
               weight_decay, ">= 0")
        _check(isinstance(l1, (int, float)) and l1 >= 0, "l1", l1, ">= 0")
        self.lr, self.weight_decay, self.l1 = float(lr), float(weight_decay), float(l1)
        self.steps = 0
        self.state = [None] * len(self.params)

    def zero_grad(self):
        for p in self.params:
            p.grad.fill(0)

    def _grad(self, p, l2=True):
        g = p.grad
        if l2 and self.weight_decay:
            g = g + self.weight_decay * p.value
        if self.l1:
            g = g + self.l1 * np.sign(p.value)
        return g

    def step(self):
        self.steps += 1
        for i, p in enumerate(self.params):
            if getattr(p, "frozen", False):
                continue
            if self.state[i] is None:
                self.state[i] = self._initial_state(p)
            g, state = self._grad(p, l2=not self.decoupled), self.state[i]
            if (p.value.size < ELEMENTWISE_MIN or get_num_threads() == 1
                    or not (p.value.flags.c_contiguous and g.flags.c_contiguous)):
                self._update(p, g, state)
            else:   # element-wise rules: slices of the flat arrays on nnlib's threads
                run_sharded(lambda a, b, p=p, g=g, state=state: self._update(
                    _Slice(p.value.reshape(-1)[a:b]), g.reshape(-1)[a:b],
                    {k: v.reshape(-1)[a:b] for k, v in state.items()}), p.value.size)

    decoupled = False

    def _initial_state(self, p):
        """A parameter's state before its first step: zeros (AdaGrad may start otherwise)."""
        return {name: np.zeros_like(p.value) for name in self.state_names}

    def _update(self, p, g, state):
        raise NotImplementedError

    def hyperparameters(self):
        return {"lr": self.lr, "weight_decay": self.weight_decay, "l1": self.l1}

    def state_dict(self):
        """{"type", "steps", "hyper": {...}, "arrays": {"i.name": ndarray}} (copies)."""
        arrays = {f"{i}.{k}": v.copy() for i, s in enumerate(self.state) if s
                  for k, v in s.items()}
        return {"type": type(self).__name__, "steps": self.steps,
                "hyper": self.hyperparameters(), "arrays": arrays}

    def load_state_dict(self, state):
        if state.get("type") != type(self).__name__:
            raise ValueError(f"optimizer state is for {state.get('type')}, not {type(self).__name__}")
        self.steps = int(state["steps"])
        self.lr = float(state["hyper"]["lr"])
        self.state = [None] * len(self.params)
        for key, arr in state["arrays"].items():
            i, name = key.split(".", 1)
            i = int(i)
            if i >= len(self.params) or arr.shape != self.params[i].value.shape:
                raise ValueError(f"optimizer state {key!r} does not fit the parameters")
            if self.state[i] is None:
                self.state[i] = {}
            self.state[i][name] = np.array(arr, dtype=self.params[i].value.dtype)


class SGD(Optimizer):
    state_names = ("momentum_buffer",)

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
                 l1=0.0):
        super().__init__(params, lr, weight_decay, l1)
        _check(momentum >= 0, "momentum", momentum, ">= 0")
        _check(not nesterov or (momentum > 0 and dampening == 0), "nesterov", nesterov,
               "used only with momentum > 0 and dampening = 0")
        self.momentum, self.dampening, self.nesterov = float(momentum), float(dampening), nesterov

    def _update(self, p, g, state):
        if self.momentum:
            buf = state["momentum_buffer"]
            if self.steps == 1:
                buf[...] = g
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        p.value -= self.lr * g


class Adam(Optimizer):
    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, l1=0.0):
        super().__init__(params, lr, weight_decay, l1)
        _check(0 <= betas[0] < 1, "betas[0]", betas[0], "in [0, 1)")
        _check(0 <= betas[1] < 1, "betas[1]", betas[1], "in [0, 1)")
        _check(eps >= 0, "eps", eps, ">= 0")
        self.betas, self.eps = (float(betas[0]), float(betas[1])), float(eps)

    def _update(self, p, g, state):
        b1, b2 = self.betas
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        bc1, bc2 = 1 - b1 ** self.steps, 1 - b2 ** self.steps
        denom = np.sqrt(v)
        denom *= 1 / np.sqrt(bc2)
        denom += self.eps
        p.value -= (self.lr / bc1) * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step."""
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, l1=0.0):
        super().__init__(params, lr, betas, eps, weight_decay, l1)

    def _update(self, p, g, state):
        if self.weight_decay:
            p.value *= 1 - self.lr * self.weight_decay
        super()._update(p, g, state)


class RMSProp(Optimizer):
    state_names = ("square_avg", "momentum_buffer")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 l1=0.0):
        super().__init__(params, lr, weight_decay, l1)
        _check(0 <= alpha < 1, "alpha", alpha, "in [0, 1)")
        _check(eps >= 0, "eps", eps, ">= 0")
        self.alpha, self.eps, self.momentum = float(alpha), float(eps), float(momentum)

    def _update(self, p, g, state):
        v = state["square_avg"]
        v *= self.alpha
        v += (1 - self.alpha) * (g * g)
        step = g / (np.sqrt(v) + self.eps)
        if self.momentum:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += step
            step = buf
        p.value -= self.lr * step


class AdaGrad(Optimizer):
    """PyTorch's Adagrad (without lr_decay): the sum of squared gradients starts at
    `initial_accumulator_value`."""
    state_names = ("sum",)

    def __init__(self, params, lr=1e-2, eps=1e-10, weight_decay=0.0, l1=0.0,
                 initial_accumulator_value=0.0):
        super().__init__(params, lr, weight_decay, l1)
        _check(eps >= 0, "eps", eps, ">= 0")
        _check(isinstance(initial_accumulator_value, (int, float)) and
               initial_accumulator_value >= 0, "initial_accumulator_value",
               initial_accumulator_value, ">= 0")
        self.eps = float(eps)
        self.initial_accumulator_value = float(initial_accumulator_value)

    def _initial_state(self, p):
        return {"sum": np.full_like(p.value, self.initial_accumulator_value)}

    def hyperparameters(self):
        return {**super().hyperparameters(),
                "initial_accumulator_value": self.initial_accumulator_value}

    def _update(self, p, g, state):
        s = state["sum"]
        s += g * g
        p.value -= self.lr * g / (np.sqrt(s) + self.eps)


class AdaDelta(Optimizer):
    state_names = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, l1=0.0):
        super().__init__(params, lr, weight_decay, l1)
        _check(0 <= rho <= 1, "rho", rho, "in [0, 1]")
        _check(eps >= 0, "eps", eps, ">= 0")
        self.rho, self.eps = float(rho), float(eps)

    def _update(self, p, g, state):
        v, u = state["square_avg"], state["acc_delta"]
        v *= self.rho
        v += (1 - self.rho) * (g * g)
        delta = np.sqrt(u + self.eps) / np.sqrt(v + self.eps) * g
        u *= self.rho
        u += (1 - self.rho) * (delta * delta)
        p.value -= self.lr * delta


OPTIMIZERS = {c.__name__.lower(): c for c in (SGD, Adam, AdamW, RMSProp, AdaGrad, AdaDelta)}
