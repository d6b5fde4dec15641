"""Per-sample networks train in blocks of BLOCK images on helper processes (nnlib.runtime.blocks): the
same numbers as the whole batch on one thread, weights that follow the optimizer, correct
gradients, and helpers that go away and report their death."""
import os
import signal

import numpy as np
import pytest

import nnlib as nn
from nnlib.runtime.constants import BLOCK
from nnlib.runtime.threads import set_num_threads

from gradutil import numerical_grad_at


def _net(seed, dtype=np.float32, dropout=False, batchnorm=False):
    prng = np.random.default_rng(seed)
    kw = {"rng": prng, "dtype": dtype}
    layers = [nn.Conv2D(1, 4, 5, padding=2, **kw), nn.ReLU(), nn.MaxPool2D(2),   # tap-major
              nn.Conv2D(4, 6, 3, padding=1, **kw), nn.ReLU(), nn.MaxPool2D(2),   # row-major
              nn.Flatten(), nn.Dense(6 * 4 * 4, 12, **kw), nn.ReLU(), nn.Dense(12, 10, **kw)]
    if dropout:
        layers.insert(-1, nn.Dropout(0.2, rng=prng))
    if batchnorm:
        layers.insert(1, nn.BatchNorm(4, dtype=dtype))
    return nn.Sequential(layers)


def _data(n, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 16, 16)).astype(dtype), rng.integers(0, 10, n)


def _train(threads, steps, n=2 * BLOCK + 22):
    """Weights, logits and input gradient after `steps` Adam steps on `threads` threads."""
    set_num_threads(threads)
    model, loss = _net(3), nn.SoftmaxCrossEntropy()
    opt = nn.Adam(model.parameters(), lr=1e-2)
    x, y = _data(n)
    for _ in range(steps):
        logits = model.forward(x, training=True)
        loss.forward(logits, y)
        dx = model.backward(loss.backward())
        opt.step()
    return [p.value.copy() for p in model.parameters()], logits, dx, model


@pytest.mark.parametrize("threads", [2, 3])
def test_blocks_on_helpers_give_the_one_thread_numbers(threads, restore_threads):
    one = _train(1, 3)
    many = _train(threads, 3)
    trainer = many[3]._plan.trainer
    assert len(trainer.helpers) == threads - 1                    # it really ran on helpers
    assert all(h.process.is_alive() and h.process.pid != os.getpid() for h in trainer.helpers)
    for a, b in zip(one[0], many[0]):                             # weights after 3 steps
        assert np.array_equal(a, b)
    assert np.array_equal(one[1], many[1]) and np.array_equal(one[2], many[2])
    trainer.close()


def test_one_block_and_models_with_batch_statistics_or_dropout_run_whole(restore_threads):
    set_num_threads(2)
    x, _ = _data(BLOCK)
    model = _net(1)
    model.forward(x, training=True)
    assert model._plan.trainer is None               # a single block
    x, _ = _data(BLOCK + 1)
    for model in (_net(1, dropout=True), _net(1, batchnorm=True)):
        model.forward(x, training=True)
        assert model._plan.trainer is None


def test_block_gradients_numerically(restore_threads):
    """float64 central differences at sampled entries of the input (both blocks) and of
    every weight, with the second block on a helper."""
    set_num_threads(2)
    x, _ = _data(BLOCK + 6, seed=4, dtype=np.float64)
    model = _net(2, dtype=np.float64)
    rng = np.random.default_rng(0)
    y = model.forward(x, training=True)
    g = rng.standard_normal(y.shape)
    dx = model.backward(g.copy())
    assert model._plan.trainer.helpers

    def scalar():
        return float(np.sum(model.forward(x, training=True) * g))

    picks = np.concatenate([rng.choice(BLOCK * 256, 8, replace=False),
                            BLOCK * 256 + rng.choice(6 * 256, 8, replace=False)])
    np.testing.assert_allclose(dx.reshape(-1)[picks], numerical_grad_at(scalar, x, picks),
                               rtol=1e-5, atol=1e-7)
    for name, p in model.named_parameters():
        picks = rng.choice(p.value.size, min(8, p.value.size), replace=False)
        numeric = numerical_grad_at(scalar, p.value, picks)
        assert np.abs(numeric).max() > 1e-4, name
        np.testing.assert_allclose(p.grad.reshape(-1)[picks], numeric, rtol=1e-5, atol=1e-7,
                                   err_msg=name)
    model._plan.trainer.close()


def test_new_thread_count_replaces_the_helpers_and_close_ends_them(restore_threads):
    *_, model = _train(3, 1)
    old = [h.process for h in model._plan.trainer.helpers]
    set_num_threads(2)
    x, y = _data(2 * BLOCK + 22)
    model.forward(x, training=True)
    assert all(not p.is_alive() for p in old)
    assert len(model._plan.trainer.helpers) == 1
    process = model._plan.trainer.helpers[0].process
    model._plan.trainer.close()
    assert not process.is_alive() and process.exitcode == 0


def test_a_dead_helper_is_reported(restore_threads):
    *_, model = _train(2, 1)
    process = model._plan.trainer.helpers[0].process
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    x, _ = _data(2 * BLOCK + 22)                    # the same shapes: the same helpers
    with pytest.raises(RuntimeError, match="helper process died"):
        model.forward(x, training=True)
    assert not model._plan.trainer.helpers                # stopped: the next step starts new ones
    model.forward(x, training=True)
    assert model._plan.trainer.helpers[0].process.is_alive()
    model._plan.trainer.close()


def test_an_interrupted_step_stops_the_helpers_and_the_next_step_is_exact(restore_threads,
                                                                         monkeypatch):
    weights, logits, dx, model = _train(2, 1)
    helper = model._plan.trainer.helpers[0]
    process = helper.process
    monkeypatch.setattr(helper, "receive_forward", lambda n: (_ for _ in ()).throw(
        KeyboardInterrupt()))                      # Ctrl-C while the helper's reply is due
    x, y = _data(2 * BLOCK + 22)
    with pytest.raises(KeyboardInterrupt):
        model.forward(x, training=True)
    assert not process.is_alive() and not model._plan.trainer.helpers
    set_num_threads(1)
    expected = model.forward(x, training=True).copy()
    set_num_threads(2)
    assert np.array_equal(model.forward(x, training=True), expected)
    model._plan.trainer.close()
