"""A frozen Param is left unchanged by every optimizer, and gets no optimizer state."""
import numpy as np
import pytest

import nnlib as nn


@pytest.mark.parametrize("name", sorted(nn.OPTIMIZERS))
def test_optimizers_skip_frozen_parameters(name):
    frozen, free = nn.Param(np.ones(3, np.float32)), nn.Param(np.ones(3, np.float32))
    frozen.frozen = True
    optimizer = nn.OPTIMIZERS[name]([frozen, free], lr=0.1)
    for p in (frozen, free):
        p.grad[...] = 0.5
    optimizer.step()
    assert np.array_equal(frozen.value, np.ones(3, np.float32))
    assert not np.array_equal(free.value, np.ones(3, np.float32))
    assert optimizer.state[0] is None and optimizer.steps == 1
