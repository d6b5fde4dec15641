"""Sequential.add, summary's trainable and non-trainable counts, AdaGrad's initial accumulator,
BatchNorm's cumulative running statistics and fit's validation interval."""
import re

import numpy as np
import pytest

import nnlib as nn


def small_model(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential([nn.Dense(6, 5, rng=rng), nn.BatchNorm(5), nn.ReLU(),
                          nn.Dense(5, 3, rng=rng)], input_shape=(6,))


def count_after(text, label):
    match = re.search(rf"^{label}:\s*([\d,]+)\s*$", text, flags=re.M)
    assert match, f"no {label!r} line in\n{text}"
    return int(match.group(1).replace(",", ""))


def test_summary_counts_frozen_parameters_as_non_trainable():
    model = small_model()
    total = 6 * 5 + 5 + 2 * 5 + 5 * 3 + 3
    text = model.summary()
    assert (count_after(text, "Total params"), count_after(text, "Trainable params"),
            count_after(text, "Non-trainable params")) == (total, total, 0)
    for p in model.layers[0].params.values():
        p.frozen = True
    text = model.summary()
    assert (count_after(text, "Total params"), count_after(text, "Trainable params"),
            count_after(text, "Non-trainable params")) == (total, total - 35, 35)


def test_add_appends_layers_and_builds_the_same_model():
    rng = np.random.default_rng(1)
    built = nn.Sequential([nn.Dense(4, 3, rng=rng)])
    assert built.add(nn.ReLU()) is built
    built.add(nn.Dense(3, 2, rng=rng))
    listed = nn.Sequential([nn.Dense(4, 3), nn.ReLU(), nn.Dense(3, 2)])
    assert built.get_config() == listed.get_config()
    assert built.forward(np.ones((2, 4), np.float32)).shape == (2, 2)
    assert len(built.parameters()) == 4
    with pytest.raises(ValueError, match="Layer"):
        built.add("relu")


@pytest.mark.parametrize("initial", [0.0, 0.1, 2.5])
def test_adagrad_initial_accumulator_follows_pytorch(initial):
    p = nn.Param(np.array([1.0, -2.0, 0.5]))
    opt = nn.AdaGrad([p], lr=0.1, initial_accumulator_value=initial)
    grads = [np.array([0.3, -0.2, 0.0]), np.array([0.1, 0.4, -0.5])]
    value, acc = p.value.copy(), np.full(3, initial)
    for g in grads:
        p.grad[...] = g
        opt.step()
        acc = acc + g * g
        value = value - 0.1 * g / (np.sqrt(acc) + 1e-10)
    np.testing.assert_allclose(p.value, value, rtol=1e-12)
    state = opt.state_dict()
    assert state["hyper"]["initial_accumulator_value"] == initial
    np.testing.assert_allclose(state["arrays"]["0.sum"], acc)


def test_adagrad_refuses_a_negative_accumulator():
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        nn.AdaGrad([nn.Param(np.zeros(2))], initial_accumulator_value=-1)


def test_batchnorm_cumulative_average_of_the_batch_statistics(tmp_path):
    rng = np.random.default_rng(2)
    bn = nn.BatchNorm(3, momentum=None, dtype=np.float64)
    batches = [rng.normal(loc, 1.0, (8, 3)) for loc in (0.0, 5.0, -2.0)]
    for x in batches:
        bn.forward(x, training=True)
    np.testing.assert_allclose(bn.running_mean, np.mean([x.mean(0) for x in batches], axis=0))
    np.testing.assert_allclose(bn.running_var, np.mean([x.var(0, ddof=1) for x in batches], axis=0))
    assert float(bn.num_batches_tracked) == 3
    model = nn.Sequential([bn])
    nn.save(model, tmp_path / "bn.npz")
    loaded = nn.load(tmp_path / "bn.npz").layers[0]
    assert loaded.momentum is None and float(loaded.num_batches_tracked) == 3
    np.testing.assert_array_equal(loaded.running_mean, bn.running_mean)


def test_batchnorm_exponential_mode_is_unchanged():
    bn = nn.BatchNorm(2, dtype=np.float64)
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    bn.forward(x, training=True)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(0))
    assert set(nn.Sequential([bn]).state_dict()) == {"0.gamma", "0.beta", "0.running_mean",
                                                      "0.running_var"}


def test_fit_validates_every_n_epochs_and_after_the_last():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = small_model()
    history = nn.fit(model, nn.SoftmaxCrossEntropy(), nn.SGD(model.parameters(), lr=0.1), x, y,
                     epochs=5, batch_size=10, rng=np.random.default_rng(0),
                     validation_data=(x, y), validation_freq=2)
    validated = [v is not None for v in history.history["val_acc"]]
    assert validated == [False, True, False, True, True]
    with pytest.raises(ValueError, match="validation_freq"):
        nn.fit(model, nn.SoftmaxCrossEntropy(), nn.SGD(model.parameters(), lr=0.1), x, y,
               epochs=1, rng=np.random.default_rng(0), validation_freq=0)
