"""Training one ensemble member from a Preset.

Everything random in a member comes from `SeedSequence(seed, spawn_key=(index,))` (the same as
`SeedSequence(seed).spawn(n)[index]`), so a member's result does not depend on how many members
train at once or in which process. Training checkpoints every epoch (nnlib.fit's `checkpoint=`)
and resumes from the checkpoint when one exists; a finished member is saved as `member-K.npz`
with its history and settings as metadata, and its checkpoint is removed.
"""
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import nnlib as nn
import numpy as np

from contest.fileio import write_json
from contest.data.preprocess import BatchTransform

MEMBER_FILE = "member-{}.npz"
CHECKPOINT_FILE = "member-{}.ckpt.npz"
PROGRESS_DIR = ".progress"
INTERRUPT_ENV = "CONTEST_TEST_INTERRUPT"  # "member:epoch:batch" -- raises there (tests only)


class SimulatedInterruption(RuntimeError):
    """Raised by the test hook to simulate a member killed in the middle of an epoch."""


@dataclass(frozen=True)
class MemberJob:
    """What a worker needs to train member `index` (picklable, no arrays)."""
    index: int
    seed: int
    preset: object          # contest.train.presets.Preset
    normalisation: str
    out_dir: str
    threads: int
    run: dict               # the run identity, stored in the member's metadata
    interrupt: tuple = None  # (epoch, batch) for the test hook, or None


def member_path(out_dir, index):
    return Path(out_dir) / MEMBER_FILE.format(index)


def checkpoint_path(out_dir, index):
    return Path(out_dir) / CHECKPOINT_FILE.format(index)


def progress_path(out_dir, index):
    return Path(out_dir) / PROGRESS_DIR / f"member-{index}.json"


def member_rngs(seed, index):
    """(init_rng, train_rng) for member `index`, derived only from (seed, index)."""
    init_seq, train_seq = np.random.SeedSequence(seed, spawn_key=(index,)).spawn(2)
    return np.random.default_rng(init_seq), np.random.default_rng(train_seq)


def interrupt_for(index):
    """(epoch, batch) at which the test hook interrupts member `index`, or None."""
    spec = os.environ.get(INTERRUPT_ENV, "")
    if not spec:
        return None
    member, epoch, batch = (int(part) for part in spec.split(":"))
    return (epoch, batch) if member == index else None


def build_optimizer(preset, params):
    if preset.optimizer == "adam":
        return nn.Adam(params, lr=preset.lr, weight_decay=preset.weight_decay)
    if preset.optimizer == "adamw":
        return nn.AdamW(params, lr=preset.lr, weight_decay=preset.weight_decay)
    if preset.optimizer == "sgd":
        return nn.SGD(params, lr=preset.lr, momentum=0.9, nesterov=True,
                      weight_decay=preset.weight_decay)
    raise ValueError(f"unknown optimizer {preset.optimizer!r} in preset {preset.name!r}")


def build_scheduler(preset, optimizer, batches_per_epoch):
    total = preset.epochs * batches_per_epoch
    if preset.schedule == "none":
        return None
    if preset.schedule == "cosine":
        return nn.CosineAnnealingLR(optimizer, T_max=preset.epochs)
    if preset.schedule == "onecycle":
        return nn.OneCycleLR(optimizer, max_lr=preset.lr, total_steps=max(2, total))
    if preset.schedule == "step":
        return nn.StepLR(optimizer, step_size=max(1, preset.epochs // 3), gamma=0.1)
    raise ValueError(f"unknown schedule {preset.schedule!r} in preset {preset.name!r}")


def build_augmenter(augment_kwargs):
    """The per-batch augmentation of a preset's `augment` dict, or None for none ({}).

    Geometric keys go to augment.Augmenter; an optional "pixel" dict goes to
    augment.pixel.PixelAugmenter, applied after the geometry.
    """
    if not augment_kwargs:
        return None
    from augment import Augmenter
    from augment.pixel import Compose, PixelAugmenter

    geometric = dict(augment_kwargs)
    pixel = geometric.pop("pixel", None) or {}
    parts = [p for p in (Augmenter(**geometric), PixelAugmenter(**pixel)) if not p.is_identity]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Compose(parts)


def _callbacks(job, epochs):
    callbacks = [ProgressWriter(progress_path(job.out_dir, job.index), job.index, epochs)]
    if job.interrupt is not None:
        callbacks.append(Interrupter(*job.interrupt))
    return callbacks


def train_member(job, x_train, y_train, x_val, y_val):
    """Train (or resume) member `job.index`; returns its metadata. x_* are float32 (N, 1, 28, 28).

    x_train holds 0-1 images (augmentation and normalisation happen per batch); x_val is already
    normalised. Runs on `job.threads` of nnlib's own threads with one BLAS thread (nnlib splits
    the batch over its threads, which uses a second core far better than a second BLAS thread).
    """
    from threadpoolctl import threadpool_limits

    nn.retain_freed_memory()   # keep big freed blocks in the heap: faster steps
    before = nn.get_num_threads()
    nn.set_num_threads(job.threads)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            return _train_member(job, x_train, y_train, x_val, y_val)
    finally:
        nn.set_num_threads(before)


def _train_member(job, x_train, y_train, x_val, y_val):
    from contest.train.architectures import build_model, member_arch

    preset, started = job.preset, time.time()
    init_rng, train_rng = member_rngs(job.seed, job.index)
    arch = member_arch(preset.arch, job.index)
    model = build_model(arch, init_rng)
    optimizer = build_optimizer(preset, model.parameters())
    batches = -(-len(x_train) // preset.batch_size)
    scheduler = build_scheduler(preset, optimizer, batches)
    transform = BatchTransform(build_augmenter(preset.augment), job.normalisation)
    checkpoint = checkpoint_path(job.out_dir, job.index)
    resumed = checkpoint.exists()
    history = nn.fit(model, nn.SoftmaxCrossEntropy(label_smoothing=preset.label_smoothing),
                     optimizer, x_train, y_train, epochs=preset.epochs,
                     batch_size=preset.batch_size, rng=train_rng, validation_data=(x_val, y_val),
                     augment=None if transform.is_identity else transform, scheduler=scheduler,
                     callbacks=_callbacks(job, preset.epochs), checkpoint=str(checkpoint))
    meta = _metadata(job, arch, history, time.time() - started, resumed)
    nn.save(model, member_path(job.out_dir, job.index), metadata=meta)
    checkpoint.unlink(missing_ok=True)
    return meta


def _metadata(job, arch, history, seconds, resumed):
    hist = history.to_dict()
    val_acc = hist["history"]["val_acc"]
    return {"index": job.index, "seed": job.seed, "spawn_key": [job.index],
            "arch": arch, "preset": job.preset.to_dict(),
            "normalisation": job.normalisation, "history": hist,
            "val_acc": val_acc[-1] if val_acc else None, "train_seconds": round(seconds, 2),
            "resumed": resumed, "threads": job.threads, "blas_threads": 1, "run": job.run}


class ProgressWriter(nn.Callback):
    """nnlib callback writing a small JSON progress report, read by the parent's progress bars."""

    def __init__(self, path, index, epochs, interval=0.5):
        self.path, self.index, self.epochs, self.interval = Path(path), index, epochs, interval
        self.epoch, self.val_acc, self.last = 0, None, 0.0

    def on_train_begin(self, state):
        self.epoch = len(state.history.epoch)
        self.started, self.finished = time.time(), []  # epochs finished in this run
        self._write({"batch": 0, "batches": 0, "loss": None, "acc": None}, "start")

    def on_epoch_begin(self, epoch, state):
        self.epoch = epoch

    def on_batch_end(self, batch, logs):
        if time.time() - self.last >= self.interval:
            self._write(logs, "batch")

    def on_epoch_end(self, epoch, logs):
        self.epoch, self.val_acc = epoch + 1, logs.get("val_acc")
        self.finished.append({"epoch": epoch + 1, "loss": logs.get("loss"), "acc": logs.get("acc"),
                              "val_acc": logs.get("val_acc"),
                              "elapsed": round(time.time() - self.started, 2)})
        self._write({**logs, "batch": 0, "batches": 0}, "epoch")

    def _write(self, logs, event):
        self.last = time.time()
        report = {"member": self.index, "event": event, "epoch": self.epoch, "epochs": self.epochs,
                  "batch": logs.get("batch", 0) + (1 if logs.get("batches") else 0),
                  "batches": logs.get("batches", 0), "loss": logs.get("loss"),
                  "acc": logs.get("acc"), "val_acc": self.val_acc,
                  "elapsed": round(self.last - self.started, 2), "finished": self.finished}
        write_json(self.path, report, fsync=False)


class Interrupter(nn.Callback):
    """Test hook: raises SimulatedInterruption at (epoch, batch), like a killed worker."""

    def __init__(self, epoch, batch):
        self.at, self.epoch = (epoch, batch), 0

    def on_epoch_begin(self, epoch, state):
        self.epoch = epoch

    def on_batch_end(self, batch, logs):
        if (self.epoch, batch) == self.at:
            raise SimulatedInterruption(f"simulated interruption at epoch {self.epoch} "
                                        f"batch {batch}")



def read_progress(path):
    """A worker's progress report, or None if absent or being replaced."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
