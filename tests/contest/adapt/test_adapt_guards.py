"""The task check of contest.adapt.guards: agreement and class spread relative to validation."""
import numpy as np
import pytest

from contest.adapt.guards import class_spread, task_check
from contest.adapt.pseudo import Votes


def votes(labels, agree):
    labels = np.asarray(labels)
    return Votes(labels, np.ones(len(labels)), np.asarray(agree, dtype=bool))


def test_class_spread_is_the_effective_number_of_classes():
    assert class_spread(np.repeat(np.arange(10), 7)) == pytest.approx(10)
    assert class_spread(np.repeat(np.arange(4), 3)) == pytest.approx(4)
    assert class_spread(np.zeros(50, dtype=int)) == pytest.approx(1)


def test_one_class_everywhere_fails_however_much_members_agree():
    validation = votes(np.arange(100) % 10, np.ones(100))
    noise = votes(np.full(100, 2), np.ones(100))
    check = task_check(noise, validation, min_agreement=0.5, min_spread=0.5)
    assert check["ratio"] == 1 and check["spread_ratio"] == pytest.approx(0.1)
    assert not check["passed"]


def test_low_agreement_fails_and_a_missing_class_passes():
    validation = votes(np.arange(100) % 10, np.ones(100))
    scattered = votes(np.arange(100) % 10, np.arange(100) < 10)
    assert not task_check(scattered, validation, 0.5, 0.5)["passed"]
    nine = votes(np.arange(90) % 9, np.arange(90) < 80)
    check = task_check(nine, validation, 0.5, 0.5)
    assert check["passed"] and check["spread_ratio"] == pytest.approx(0.9)
