"""Argument checks shared by layers, losses, optimizers and schedules: one-line ValueErrors
naming the argument, the rule and the value received."""
import numpy as np


def check(cond, name, value, rule):
    if not cond:
        raise ValueError(f"{name} must be {rule} (received: {name}={value!r})")


def check_positive_int(name, value):
    check(isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0,
          name, value, "a positive integer")


def int_pair(name, value, minimum=1):
    """An int or a pair of ints (height, width), each >= minimum -> (int, int)."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    check(len(pair) == 2 and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                 and v >= minimum for v in pair),
          name, value, f"an integer >= {minimum} or a pair of them")
    return int(pair[0]), int(pair[1])


def compact_pair(pair):
    """(a, a) -> a, else [a, b]: square sizes stay plain integers in configs."""
    return pair[0] if pair[0] == pair[1] else list(pair)
