"""Shared fixtures of the nnlib tests."""
import pytest

from nnlib.runtime.threads import get_num_threads, set_num_threads


@pytest.fixture
def restore_threads():
    before = get_num_threads()
    yield
    set_num_threads(before)
