"""nn.fit: shuffling without replacement, History, callbacks, EarlyStopping, silence, resume."""
import os

import numpy as np
import pytest

import nnlib as nn

N, BATCH = 256, 32
BATCHES = N // BATCH


def make_data(n=N, seed=0, flip=False):
    """n images (1, 8, 8), two classes: bright left half vs bright right half, plus noise.
    Pixel (0, 0) is a marker i / 256 identifying the sample (exact in float32)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(0, 0.3, (n, 1, 8, 8))
    x[y == 0, :, :, :4] += 1.0
    x[y == 1, :, :, 4:] += 1.0
    x[:, 0, 0, 0] = np.arange(n) / 256
    return x.astype(np.float32), (1 - y if flip else y).astype(np.int64)


def build(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential([
        nn.Conv2D(1, 4, 3, padding=1, rng=rng), nn.BatchNorm(4), nn.ReLU(), nn.MaxPool2D(2),
        nn.Flatten(), nn.Dropout(0.2, rng=rng), nn.Dense(64, 2, init="glorot", rng=rng),
    ])


def weights(model):
    return {k: np.array(v) for k, v in model.state_dict().items()}


def same_weights(a, b):
    return set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def test_each_epoch_is_a_fresh_permutation_without_replacement():
    x, y = make_data()
    model = build()
    seen = []

    def augment(batch, rng):
        assert isinstance(rng, np.random.Generator)
        seen.append(np.rint(batch[:, 0, 0, 0] * 256).astype(int))
        return batch

    nn.fit(model, nn.SoftmaxCrossEntropy(), nn.SGD(model.parameters(), lr=0.05), x, y,
           epochs=3, batch_size=BATCH, rng=np.random.default_rng(1), augment=augment)
    assert len(seen) == 3 * BATCHES
    assert all(len(b) == BATCH for b in seen)
    orders = [np.concatenate(seen[e * BATCHES:(e + 1) * BATCHES]) for e in range(3)]
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.arange(N))   # every index exactly once
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[1], orders[2])
    assert not np.array_equal(orders[0], np.arange(N)), "data were not shuffled"


def test_augmented_batch_is_what_the_model_trains_on():
    x, y = make_data()
    calls = []

    def augment(batch, rng):
        calls.append(1)
        return np.zeros_like(batch)          # erases all information

    model = build()
    hist = nn.fit(model, nn.SoftmaxCrossEntropy(), nn.Adam(model.parameters(), lr=0.01), x, y,
                  epochs=2, batch_size=BATCH, rng=np.random.default_rng(0), augment=augment,
                  validation_data=(x, y))
    assert len(calls) == 2 * BATCHES           # never called on validation data
    assert hist.history["acc"][-1] < 0.75       # it cannot learn from blank images


def test_an_augment_that_uses_labels_gets_the_batch_labels():
    x, y = make_data()
    seen = []

    class LabelAugment:
        uses_labels = True

        def __call__(self, batch, rng, labels=None):
            seen.append((batch.copy(), labels.copy()))
            return batch

    model = build()
    nn.fit(model, nn.SoftmaxCrossEntropy(), nn.Adam(model.parameters(), lr=0.01), x, y,
           epochs=1, batch_size=BATCH, rng=np.random.default_rng(0), augment=LabelAugment())
    assert len(seen) == BATCHES
    for batch, labels in seen:                 # each batch's own labels, row for row
        rows = [np.flatnonzero((x == image).all(axis=tuple(range(1, x.ndim))))[0]
                for image in batch]
        np.testing.assert_array_equal(labels, y[rows])


def test_history_has_one_entry_per_epoch_and_learns():
    x, y = make_data()
    xv, yv = make_data(64, seed=1)
    model = build()
    opt = nn.Adam(model.parameters(), lr=0.01)
    loss = nn.SoftmaxCrossEntropy()
    hist = nn.fit(model, loss, opt, x, y, epochs=3, batch_size=BATCH,
                  rng=np.random.default_rng(2), validation_data=(xv, yv))
    h = hist.history
    assert set(h) >= {"loss", "acc", "val_loss", "val_acc", "lr"}
    for key in ("loss", "acc", "val_loss", "val_acc", "lr"):
        assert len(h[key]) == 3, key
        assert all(np.isfinite(v) for v in h[key]), key
    assert list(hist.epoch) == [0, 1, 2]
    assert h["lr"] == [pytest.approx(0.01)] * 3
    assert all(0 <= a <= 1 for a in h["acc"] + h["val_acc"])
    assert h["loss"][-1] < h["loss"][0]
    assert h["val_acc"][-1] > 0.9
    # the last val figures describe the final model in eval mode
    logits = model.forward(xv, training=False)
    assert h["val_loss"][-1] == pytest.approx(loss.forward(logits, yv), rel=1e-4)
    assert h["val_acc"][-1] == pytest.approx(float(np.mean(logits.argmax(1) == yv)))
    d = hist.to_dict()
    again = nn.History.from_dict(d)
    assert again.history == hist.history and list(again.epoch) == list(hist.epoch)


def test_history_lr_follows_per_epoch_schedule():
    x, y = make_data()
    model = build()
    opt = nn.SGD(model.parameters(), lr=0.1)
    sched = nn.StepLR(opt, step_size=1, gamma=0.5)
    hist = nn.fit(model, nn.SoftmaxCrossEntropy(), opt, x, y, epochs=3, batch_size=BATCH,
                  rng=np.random.default_rng(0), scheduler=sched)
    np.testing.assert_allclose(hist.history["lr"], [0.1, 0.05, 0.025], rtol=1e-12)


def test_one_cycle_schedule_steps_per_batch():
    x, y = make_data()
    model = build()
    opt = nn.Adam(model.parameters(), lr=1e-3)
    sched = nn.OneCycleLR(opt, max_lr=0.01, total_steps=2 * BATCHES)
    lrs = []
    nn.fit(model, nn.SoftmaxCrossEntropy(), opt, x, y, epochs=2, batch_size=BATCH,
           rng=np.random.default_rng(0), scheduler=sched,
           callbacks=[nn.LambdaCallback(on_batch_end=lambda b, logs: lrs.append(opt.lr))])
    assert len(lrs) == 2 * BATCHES
    assert max(lrs) == pytest.approx(0.01, rel=1e-3)
    assert lrs[-1] < 1e-5     # annealed to max_lr / 25 / 1e4 at the last step


def test_lambda_callback_sees_every_epoch_and_batch():
    x, y = make_data()
    xv, yv = make_data(32, seed=3)
    epochs, batches = [], []
    model = build()
    hist = nn.fit(model, nn.SoftmaxCrossEntropy(), nn.Adam(model.parameters(), lr=0.01), x, y,
                  epochs=3, batch_size=BATCH, rng=np.random.default_rng(0),
                  validation_data=(xv, yv),
                  callbacks=[nn.LambdaCallback(
                      on_epoch_end=lambda e, logs: epochs.append((e, dict(logs))),
                      on_batch_end=lambda b, logs: batches.append((b, dict(logs))))])
    assert [e for e, _ in epochs] == [0, 1, 2]
    for i, (e, logs) in enumerate(epochs):
        for key in ("loss", "acc", "val_loss", "val_acc", "lr"):
            assert logs[key] == pytest.approx(hist.history[key][i]), key
    assert len(batches) == 3 * BATCHES
    assert [b for b, _ in batches] == list(range(BATCHES)) * 3
    for b, logs in batches:
        assert logs["batch"] == b and logs["batches"] == BATCHES
        assert np.isfinite(logs["loss"]) and 0 <= logs["acc"] <= 1
    # the running mean loss at the last batch of an epoch is that epoch's loss
    assert batches[BATCHES - 1][1]["loss"] == pytest.approx(hist.history["loss"][0], rel=1e-6)


def test_callback_can_stop_training_and_sees_hooks_in_order():
    x, y = make_data()
    events = []

    class Recorder(nn.Callback):
        def on_train_begin(self, state):
            events.append("train_begin")
            self.state = state

        def on_epoch_begin(self, epoch, state):
            events.append(f"epoch_begin {epoch}")

        def on_epoch_end(self, epoch, logs):
            events.append(f"epoch_end {epoch}")
            if epoch == 1:
                self.state.stop_training = True

    model = build()
    hist = nn.fit(model, nn.SoftmaxCrossEntropy(), nn.Adam(model.parameters(), lr=0.01), x, y,
                  epochs=10, batch_size=BATCH, rng=np.random.default_rng(0),
                  callbacks=[Recorder()])
    assert events == ["train_begin", "epoch_begin 0", "epoch_end 0", "epoch_begin 1", "epoch_end 1"]
    assert len(hist.history["loss"]) == 2


def _early_stopping_run(restore):
    x, y = make_data()
    xv, yv = make_data(64, seed=5, flip=True)   # flipped labels: val_loss gets worse as we learn
    model = build()
    snapshots = []
    stopper = nn.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=restore)
    hist = nn.fit(model, nn.SoftmaxCrossEntropy(), nn.Adam(model.parameters(), lr=0.01), x, y,
                  epochs=12, batch_size=BATCH, rng=np.random.default_rng(0),
                  validation_data=(xv, yv),
                  callbacks=[nn.LambdaCallback(on_epoch_end=lambda e, l: snapshots.append(weights(model))),
                             stopper])
    return model, hist, snapshots


@pytest.mark.parametrize("restore", [True, False])
def test_early_stopping_patience_and_restore_best_weights(restore):
    model, hist, snapshots = _early_stopping_run(restore)
    val = hist.history["val_loss"]
    ran = len(val)
    assert ran < 12, "EarlyStopping never stopped"
    assert len(snapshots) == ran
    # keras semantics: the best epoch is the first minimum; stop after `patience` epochs without
    # an improvement
    best = int(np.argmin(val))
    assert ran == best + 2 + 1
    assert min(val[best + 1:]) >= val[best]
    if restore:
        assert same_weights(weights(model), snapshots[best])
        assert not same_weights(weights(model), snapshots[-1])
    else:
        assert same_weights(weights(model), snapshots[-1])


def test_early_stopping_min_delta_and_max_mode():
    # with a huge min_delta nothing counts as an improvement: stop after 1 + patience epochs
    x, y = make_data()
    xv, yv = make_data(64, seed=5)
    model = build()
    hist = nn.fit(model, nn.SoftmaxCrossEntropy(), nn.Adam(model.parameters(), lr=0.01), x, y,
                  epochs=10, batch_size=BATCH, rng=np.random.default_rng(0),
                  validation_data=(xv, yv),
                  callbacks=[nn.EarlyStopping(monitor="val_acc", patience=1, min_delta=2.0)])
    assert len(hist.history["val_acc"]) == 2


def test_fit_prints_nothing(tmp_path, capsys):
    x, y = make_data()
    xv, yv = make_data(32, seed=1)
    model = build()
    opt = nn.Adam(model.parameters(), lr=0.01)
    nn.fit(model, nn.SoftmaxCrossEntropy(), opt, x, y, epochs=2, batch_size=BATCH,
           rng=np.random.default_rng(0), validation_data=(xv, yv),
           scheduler=nn.ExponentialLR(opt, 0.9), checkpoint=tmp_path / "ck.npz",
           callbacks=[nn.EarlyStopping(patience=5)])
    nn.save(model, tmp_path / "m.npz", metadata={"a": 1})
    nn.load(tmp_path / "m.npz").predict_proba(xv)
    assert isinstance(model.summary(input_shape=(1, 8, 8)), str)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_fit_does_not_touch_global_rng():
    x, y = make_data()
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    model = build()
    nn.fit(model, nn.SoftmaxCrossEntropy(), nn.Adam(model.parameters(), lr=0.01), x, y,
           epochs=1, batch_size=BATCH, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


# ---------------------------------------------------------------- checkpoint resume

def _noisy(batch, rng):
    return batch + rng.normal(0, 0.05, batch.shape).astype(batch.dtype)


SCHEDULES = {
    "none": lambda opt: None,
    "exponential": lambda opt: nn.ExponentialLR(opt, gamma=0.5),
    "onecycle": lambda opt: nn.OneCycleLR(opt, max_lr=0.02, total_steps=2 * BATCHES),
}


@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_checkpoint_resume_matches_uninterrupted_run(tmp_path, schedule):
    x, y = make_data()
    xv, yv = make_data(32, seed=1)

    def run(model_seed, rng_seed, epochs, checkpoint):
        model = build(model_seed)
        opt = nn.Adam(model.parameters(), lr=0.01)
        sched = SCHEDULES[schedule](opt)
        hist = nn.fit(model, nn.SoftmaxCrossEntropy(label_smoothing=0.1), opt, x, y,
                      epochs=epochs, batch_size=BATCH, rng=np.random.default_rng(rng_seed),
                      validation_data=(xv, yv), augment=_noisy, scheduler=sched,
                      checkpoint=checkpoint)
        return model, hist

    full, full_hist = run(1, 7, 2, None)
    ck = tmp_path / "ck.npz"
    _, first_hist = run(1, 7, 1, ck)
    assert ck.exists()
    assert len(first_hist.history["loss"]) == 1
    assert os.listdir(tmp_path) == ["ck.npz"]
    # a fresh process would build a fresh model, optimizer and rng: use other seeds on purpose,
    # everything must come back from the checkpoint
    resumed, resumed_hist = run(2, 99, 2, ck)
    assert same_weights(weights(resumed), weights(full))
    assert resumed_hist.history == full_hist.history
    assert list(resumed_hist.epoch) == [0, 1]
    xt = make_data(16, seed=9)[0]
    assert np.array_equal(resumed.predict_proba(xt), full.predict_proba(xt))
