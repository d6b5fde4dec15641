"""The training loop: `fit` with shuffling without replacement, per-batch augmentation,
validation, History, Keras-style callbacks and exact resume from a checkpoint file.
The library prints nothing; callers observe progress through callbacks."""
import os

import numpy as np

from .serialization import load_optimizer_state, load_weights, save

KEYS = ("loss", "acc", "val_loss", "val_acc", "lr")


class History:
    """Per-epoch figures: history.history[key] lists, history.epoch the epoch numbers."""

    def __init__(self):
        self.epoch = []
        self.history = {k: [] for k in KEYS}

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for k in KEYS:
            self.history[k].append(logs.get(k))

    def to_dict(self):
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}

    @classmethod
    def from_dict(cls, d):
        h = cls()
        h.epoch = list(d["epoch"])
        h.history = {k: list(d["history"].get(k, [])) for k in KEYS}
        return h


class TrainingState:
    """What callbacks see: the model, optimizer, history, and a stop flag they may set."""

    def __init__(self, model, optimizer, history, epochs):
        self.model, self.optimizer, self.history, self.epochs = model, optimizer, history, epochs
        self.stop_training = False


class Callback:
    def on_train_begin(self, state):
        pass

    def on_epoch_begin(self, epoch, state):
        pass

    def on_batch_end(self, batch, logs):
        pass

    def on_epoch_end(self, epoch, logs):
        pass

    def on_train_end(self, state):
        pass


class LambdaCallback(Callback):
    def __init__(self, on_epoch_end=None, on_batch_end=None):
        self._epoch, self._batch = on_epoch_end, on_batch_end

    def on_epoch_end(self, epoch, logs):
        if self._epoch:
            self._epoch(epoch, logs)

    def on_batch_end(self, batch, logs):
        if self._batch:
            self._batch(batch, logs)


class EarlyStopping(Callback):
    """Keras semantics: stop when `monitor` has not improved by more than `min_delta` for
    `patience` epochs; optionally restore the weights of the best epoch at the end."""

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="auto",
                 restore_best_weights=False):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max' (received: mode={mode!r})")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.patience, self.min_delta = monitor, patience, abs(min_delta)
        self.sign = 1.0 if mode == "max" else -1.0
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, state):
        self.state, self.best, self.wait, self.best_weights = state, None, 0, None
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs):
        value = logs.get(self.monitor)
        if value is None:
            raise ValueError(f"EarlyStopping monitors {self.monitor!r}, which the logs lack "
                             f"(have: {sorted(k for k, v in logs.items() if v is not None)})")
        if self.best is None or self.sign * (value - self.best) > self.min_delta:
            self.best, self.wait = value, 0
            if self.restore_best_weights:
                self.best_weights = {k: v.copy() for k, v in self.state.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.state.stop_training = True
            self.stopped_epoch = epoch

    def on_train_end(self, state):
        if self.restore_best_weights and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)


def evaluate(model, x, y, batch_size=1000):
    """(mean cross-entropy, accuracy) of `model` on (x, y) in eval mode."""
    p = model.predict_proba(x, batch_size)
    picked = p[np.arange(len(y)), y].astype(np.float64)
    return float(-np.log(np.maximum(picked, 1e-12)).mean()), float((p.argmax(1) == y).mean())


def _restore(checkpoint, model, optimizer, scheduler, rng):
    meta = load_weights(model, checkpoint)
    state = load_optimizer_state(checkpoint)
    if state is not None:
        optimizer.load_state_dict(state)
    if scheduler is not None and meta.get("scheduler"):
        scheduler.load_state_dict(meta["scheduler"])
    rng.bit_generator.state = meta["rng"]
    return meta["epoch"], History.from_dict(meta["history"])


def _save_checkpoint(checkpoint, model, optimizer, scheduler, rng, epoch, history):
    meta = {"epoch": epoch, "history": history.to_dict(), "rng": rng.bit_generator.state,
            "scheduler": scheduler.state_dict() if scheduler is not None else None}
    save(model, checkpoint, metadata=meta, optimizer=optimizer)


def _augmented(augment, xb, yb, rng):
    """augment(batch, rng), or augment(batch, rng, labels=...) for one that declares
    `uses_labels` (class-specific variants, e.g. a style drawn on one digit only)."""
    if getattr(augment, "uses_labels", False):
        return augment(xb, rng, labels=yb)
    return augment(xb, rng)


def _run_epoch(model, loss, optimizer, x, y, batch_size, rng, augment, scheduler, callbacks):
    n = len(x)
    order = rng.permutation(n)
    batches = (n + batch_size - 1) // batch_size
    total_loss, correct = 0.0, 0
    for b in range(batches):
        idx = order[b * batch_size:(b + 1) * batch_size]
        xb, yb = x[idx], y[idx]
        if augment is not None:
            xb = _augmented(augment, xb, yb, rng)
        logits = model.forward(xb, training=True)
        total_loss += loss.forward(logits, yb) * len(idx)
        correct += int((logits.argmax(axis=1) == yb).sum())
        model.backward(loss.backward(), input_grad=False)
        optimizer.step()
        optimizer.zero_grad()
        if scheduler is not None and scheduler.per_batch:
            scheduler.step()
        seen = min((b + 1) * batch_size, n)
        logs = {"loss": total_loss / seen, "acc": correct / seen, "batch": b, "batches": batches}
        for cb in callbacks:
            cb.on_batch_end(b, logs)
    return total_loss / n, correct / n


def _epoch_logs(model, tr_loss, tr_acc, lr, validation_data):
    logs = {"loss": tr_loss, "acc": tr_acc, "val_loss": None, "val_acc": None, "lr": lr}
    if validation_data is not None:
        logs["val_loss"], logs["val_acc"] = evaluate(model, *validation_data)
    return logs


def _validates(epoch, epochs, validation_freq):
    """Whether validation runs after `epoch` (0-based): every `validation_freq` epochs (Keras'
    rule: epochs validation_freq, 2 * validation_freq, ... counting from one), and the last."""
    return (epoch + 1) % validation_freq == 0 or epoch + 1 == epochs


def _check_fit_arguments(x, y, batch_size, rng, validation_freq=1):
    if rng is None:
        raise ValueError("fit needs rng=numpy.random.Generator (every random draw is seeded)")
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty and of equal length (got {len(x)} and {len(y)})")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (received: batch_size={batch_size})")
    if isinstance(validation_freq, bool) or not isinstance(validation_freq, int) or \
            validation_freq < 1:
        raise ValueError(f"validation_freq must be a positive integer "
                         f"(received: validation_freq={validation_freq!r})")


def fit(model, loss, optimizer, x, y, epochs, batch_size=128, rng=None, validation_data=None,
        augment=None, scheduler=None, callbacks=(), checkpoint=None, validation_freq=1):
    """Train `model` on (x, y) and return a History. See docs/nnlib-api.md.

    x: (N, ...) float array, y: (N,) int labels; every epoch is a fresh permutation (no
    replacement); `augment(batch, rng)` transforms each batch (called with `labels=` the batch's
    labels when `augment.uses_labels` is true); `checkpoint` is a path saved after
    every epoch and resumed from if it exists when fit starts; `validation_freq` N validates
    after every N-th epoch and the last (the others log val_* = None). For speed, call
    `nnlib.retain_freed_memory()` once before training (fit does not: it is process-wide).
    """
    _check_fit_arguments(x, y, batch_size, rng, validation_freq)
    history, start = History(), 0
    if checkpoint is not None and os.path.exists(checkpoint):
        start, history = _restore(checkpoint, model, optimizer, scheduler, rng)
    state = TrainingState(model, optimizer, history, epochs)
    callbacks = list(callbacks)
    for cb in callbacks:
        cb.on_train_begin(state)
    for epoch in range(start, epochs):
        for cb in callbacks:
            cb.on_epoch_begin(epoch, state)
        lr = optimizer.lr
        tr_loss, tr_acc = _run_epoch(model, loss, optimizer, x, y, batch_size, rng, augment,
                                     scheduler, callbacks)
        if scheduler is not None and not scheduler.per_batch:
            scheduler.step()
        logs = _epoch_logs(model, tr_loss, tr_acc, lr,
                           validation_data if _validates(epoch, epochs, validation_freq) else None)
        history.append(epoch, logs)
        if checkpoint is not None:
            _save_checkpoint(checkpoint, model, optimizer, scheduler, rng, epoch + 1, history)
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if state.stop_training:
            break
    for cb in callbacks:
        cb.on_train_end(state)
    return history
