"""nnlib's intra-op threads: same numbers whatever the thread count, correct gradients with
several shards, and the ReLU/max-pool reordering of Sequential."""
import numpy as np
import pytest

import nnlib as nn
from nnlib.ops import conv as conv_ops
from nnlib.runtime import threads
from nnlib.runtime.constants import GROUP
from nnlib.runtime.plan import execution_order
from nnlib.runtime.threads import set_num_threads, shard_bounds

from gradutil import check_layer

F64 = np.float64


@pytest.mark.parametrize("n,t,align", [(128, 2, 16), (40, 3, 16), (5, 4, 1), (1, 2, 1), (17, 2, 16)])
def test_shards_cover_the_range_in_order_on_aligned_bounds(n, t, align):
    bounds = shard_bounds(n, threads=t, align=align)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a < b for a, b in bounds)
    assert all(bounds[i][1] == bounds[i + 1][0] for i in range(len(bounds) - 1))
    assert all(a % align == 0 for a, _ in bounds)
    assert len(bounds) == min(t, -(-n // align))


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_set_num_threads_rejects_non_positive_integers(bad, restore_threads):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        set_num_threads(bad)


def _model(seed):
    prng = np.random.default_rng(seed)
    return nn.Sequential([
        nn.Conv2D(1, 3, 5, padding=2, rng=prng), nn.ReLU(), nn.MaxPool2D(2),   # tap-major im2col
        nn.Conv2D(3, 6, 3, padding=1, rng=prng), nn.BatchNorm(6), nn.ReLU(),
        nn.Conv2D(6, 8, 3, stride=2, padding=1, rng=prng), nn.ReLU(),          # row-major, col2im dx
        nn.MaxPool2D(2), nn.Flatten(), nn.Dense(8 * 2 * 2, 10, rng=prng), nn.BatchNorm(10),
    ])


def _step(model, x, labels):
    loss = nn.SoftmaxCrossEntropy()
    logits = model.forward(x, training=True)
    loss.forward(logits, labels)
    dx = model.backward(loss.backward())
    grads = [p.grad.copy() for p in model.parameters()]
    return logits.copy(), dx.copy(), grads, model.forward(x, training=False).copy()


@pytest.mark.parametrize("n", [2 * GROUP + 5, 3])
def test_results_are_bit_identical_for_any_thread_count(n, restore_threads):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, 1, 16, 16)).astype(np.float32)
    labels = rng.integers(0, 10, n)
    results = []
    for t in (1, 2, 3):
        set_num_threads(t)
        results.append(_step(_model(1), x, labels))
    for other in results[1:]:
        for a, b in zip(results[0][:2] + (results[0][3],), other[:2] + (other[3],)):
            assert np.array_equal(a, b)
        for ga, gb in zip(results[0][2], other[2]):
            assert np.array_equal(ga, gb)


def test_threads_really_run_on_pool_threads(restore_threads, monkeypatch):
    import threading
    seen = set()
    real = threads.run_sharded

    def spy(fn, n, align=1):
        return real(lambda a, b: (seen.add(threading.get_ident()), fn(a, b))[1], n, align)

    monkeypatch.setattr(conv_ops, "run_sharded", spy)
    set_num_threads(2)
    # 32 images: several im2col chunks, and shards start on chunk bounds
    x = np.random.default_rng(0).standard_normal((32, 4, 6, 6)).astype(np.float32)
    nn.Conv2D(4, 4, 3, rng=np.random.default_rng(0)).forward(x)
    assert len(seen) == 2


@pytest.mark.parametrize("cin", [1, 5])
def test_conv_gradients_with_several_shards_and_groups(cin, restore_threads):
    set_num_threads(3)
    rng = np.random.default_rng(cin)
    layer = nn.Conv2D(cin, 2, 3, padding=1, rng=np.random.default_rng(3), dtype=F64)
    layer.params["b"].value[...] = rng.standard_normal(2)
    check_layer(layer, rng.standard_normal((GROUP + 3, cin, 4, 4)), rng, param_names=["W", "b"])


def test_batchnorm_gradients_with_several_shards_and_groups(restore_threads):
    set_num_threads(2)
    rng = np.random.default_rng(8)
    layer = nn.BatchNorm(2, dtype=F64)
    layer.params["gamma"].value[...] = [1.4, 0.6]
    layer.params["beta"].value[...] = [0.3, -0.2]
    check_layer(layer, rng.standard_normal((GROUP + 2, 2, 3, 3)) * 2 + 1, rng)


def test_relu_before_maxpool_gives_the_declared_order_results():
    """Sequential runs ReLU after a following MaxPool2D; outputs and input gradients must equal
    those of the layers run one by one in the declared order, ties and negative windows included."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3, 6, 6))
    x[0, 0, :2, :2] = -1.0                       # a window with no positive value
    x[1, 1, :2, :2] = 0.5                        # a tie of positive maxima
    dy = rng.standard_normal((4, 3, 3, 3))
    model = nn.Sequential([nn.ReLU(), nn.MaxPool2D(2)])
    assert execution_order(model.layers) == [1, 0]
    y = model.forward(x, training=True)
    dx = model.backward(dy)
    relu, pool = nn.ReLU(), nn.MaxPool2D(2)
    y_ref = pool.forward(relu.forward(x, training=True), training=True)
    dx_ref = relu.backward(pool.backward(dy))
    assert np.array_equal(y, y_ref)
    assert np.array_equal(dx, dx_ref)
    assert np.array_equal(model.forward(x), y_ref)


def _layer_by_layer_eval(model, x):
    for layer in model.layers:
        x = layer.forward(x, training=False)
    return x


def test_eval_fuses_conv_batchnorm_relu_without_changing_results():
    rng = np.random.default_rng(4)
    model = _model(2)
    x = rng.standard_normal((6, 1, 16, 16)).astype(np.float32)
    for _ in range(3):   # move the running statistics away from (0, 1)
        model.forward(x * 2 + 0.5, training=True)
    for layer in model.layers:
        if isinstance(layer, nn.BatchNorm):
            layer.params["gamma"].value[...] = rng.uniform(0.5, 1.5, layer.num_features)
            layer.params["beta"].value[...] = rng.standard_normal(layer.num_features)
    fused, plain = model.forward(x), _layer_by_layer_eval(model, x)
    np.testing.assert_allclose(fused, plain, rtol=1e-5, atol=1e-5)
    assert np.abs(plain).max() > 0.1


def test_eval_fuses_conv_relu_bit_exactly():
    rng = np.random.default_rng(6)
    prng = np.random.default_rng(1)
    model = nn.Sequential([nn.Conv2D(2, 4, 3, padding=1, rng=prng), nn.ReLU(), nn.MaxPool2D(2),
                           nn.Conv2D(4, 4, 3, rng=prng), nn.ReLU()])
    x = rng.standard_normal((3, 2, 8, 8)).astype(np.float32)
    y = model.forward(x)
    assert np.array_equal(y, _layer_by_layer_eval(model, x))
    assert (y == 0).any() and (y > 0).any()


@pytest.mark.parametrize("make", [lambda ps: nn.Adam(ps, lr=1e-2),
                                  lambda ps: nn.AdamW(ps, lr=1e-2),
                                  lambda ps: nn.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3)])
def test_optimizer_steps_on_threads_match_one_thread(make, restore_threads):
    rng = np.random.default_rng(0)
    start = rng.standard_normal((300, 300)).astype(np.float32)   # big enough to be sharded
    grads = [rng.standard_normal((300, 300)).astype(np.float32) for _ in range(3)]
    finals = []
    for t in (1, 2):
        set_num_threads(t)
        p = nn.Param(start.copy())
        opt = make([p])
        for g in grads:
            p.grad[...] = g
            opt.step()
        finals.append(p.value)
    assert np.array_equal(finals[0], finals[1])
    assert not np.array_equal(finals[0], start)


def _conv_in_child(queue):
    x = np.random.default_rng(0).standard_normal((8, 4, 6, 6)).astype(np.float32)
    queue.put(nn.Conv2D(4, 4, 3, rng=np.random.default_rng(0)).forward(x).sum())


def test_a_forked_child_gets_working_threads(restore_threads):
    import multiprocessing
    set_num_threads(2)
    x = np.random.default_rng(0).standard_normal((8, 4, 6, 6)).astype(np.float32)
    expected = nn.Conv2D(4, 4, 3, rng=np.random.default_rng(0)).forward(x).sum()  # pool started
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_conv_in_child, args=(queue,))
    child.start()
    result = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0 and result == expected
