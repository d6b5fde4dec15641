"""Argument checks shared by layers, losses, optimizers and schedules: one-line ValueErrors
naming the argument, the rule and the value received."""
import numpy as np


def check(cond, name, value, rule):
    if not cond:
        raise ValueError(f"{name} must be {rule} (received: {name}={value!r})")


def check_positive_int(name, value):
    check(isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0,
          name, value, "a positive integer")
