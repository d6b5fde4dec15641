"""Learning-rate schedules with PyTorch's closed-form formulas.

`step()` advances one unit (an epoch, or a batch for `per_batch` schedules such as OneCycleLR)
and sets `optimizer.lr`. `state_dict()`/`load_state_dict()` resume a schedule exactly.
"""
import math

from .checks import check as _check


class LRScheduler:
    per_batch = False

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        optimizer.lr = self.lr_at(0)

    def lr_at(self, t):
        raise NotImplementedError

    def step(self):
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def state_dict(self):
        return {"type": type(self).__name__, "base_lr": self.base_lr, "last_epoch": self.last_epoch}

    def load_state_dict(self, state):
        if state.get("type") != type(self).__name__:
            raise ValueError(f"schedule state is for {state.get('type')}, not {type(self).__name__}")
        self.base_lr, self.last_epoch = state["base_lr"], state["last_epoch"]
        self.optimizer.lr = self.lr_at(self.last_epoch)


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (t // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        _check(isinstance(step_size, int) and step_size > 0, "step_size", step_size, "a positive integer")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, t):
        return self.base_lr * self.gamma ** (t // self.step_size)


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma ** t."""

    def __init__(self, optimizer, gamma):
        _check(gamma > 0, "gamma", gamma, "> 0")
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, t):
        return self.base_lr * self.gamma ** t


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        _check(isinstance(T_max, int) and T_max > 0, "T_max", T_max, "a positive integer")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, t):
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class OneCycleLR(LRScheduler):
    """PyTorch's OneCycleLR (two phases, cosine annealing), stepped once per batch:
    from max_lr/div_factor up to max_lr over pct_start of the steps, then down to
    max_lr/(div_factor*final_div_factor). Momentum is not cycled."""
    per_batch = True

    def __init__(self, optimizer, max_lr, total_steps, pct_start=0.3, div_factor=25.0,
                 final_div_factor=1e4):
        _check(isinstance(total_steps, int) and total_steps > 1, "total_steps", total_steps, "an integer > 1")
        _check(0 < pct_start < 1, "pct_start", pct_start, "in (0, 1)")
        _check(max_lr > 0, "max_lr", max_lr, "> 0")
        self.max_lr, self.total_steps, self.pct_start = max_lr, total_steps, pct_start
        self.initial_lr = max_lr / div_factor
        self.min_lr = self.initial_lr / final_div_factor
        super().__init__(optimizer)

    @staticmethod
    def _anneal(start, end, pct):
        return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)

    def lr_at(self, t):
        up_end = float(self.pct_start * self.total_steps) - 1
        down_end = float(self.total_steps - 1)
        t = min(t, self.total_steps - 1)
        if t <= up_end:
            return self._anneal(self.initial_lr, self.max_lr, t / up_end)
        return self._anneal(self.max_lr, self.min_lr, (t - up_end) / (down_end - up_end))
