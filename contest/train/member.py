"""Training one ensemble member from a Preset.

Everything random in a member comes from `SeedSequence(seed, spawn_key=(index,))` (the same as
`SeedSequence(seed).spawn(n)[index]`), so a member's result does not depend on how many members
train at once or in which process. Training checkpoints every epoch (nnlib.fit's `checkpoint=`)
and resumes from the checkpoint when one exists; a finished member is saved as `member-K.npz`
with its history and settings as metadata, and its checkpoint is removed. Progress goes to the
member's report file (contest.train.progress).
"""
import time
from dataclasses import dataclass

import nnlib as nn
import numpy as np
from augment import Augmenter
from augment.pixel import Compose, PixelAugmenter
from augment.styles import StyleAugmenter

from contest.blas_threads import worker_threads
from contest.data.preprocess import BatchTransform
from contest.data.spec import MNIST, InputSpec
from contest.modeldir.files import best_path, checkpoint_path, member_path
from contest.modeldir.guard import check_finite_member, orphan_guard
from contest.train.architectures import build_model, member_arch
from contest.train.augment_limits import check_augment
from contest.train.best import RestoreBest
from contest.train.continue_member import prepare_start
from contest.train.network import apply_recipe
from contest.train.options import build_optimizer
from contest.train.progress import ProgressWriter, progress_path

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
    continue_to: int = None  # --more-epochs: train the finished member on to this many epochs
    stream: int = None       # the seed's stream to draw from [None: index]; compare's variants
                             # all draw from stream 0, so they start alike


def member_rngs(seed, index):
    """(init_rng, train_rng) for member `index`, derived only from (seed, index)."""
    init_seq, train_seq = np.random.SeedSequence(seed, spawn_key=(index,)).spawn(2)
    return np.random.default_rng(init_seq), np.random.default_rng(train_seq)


def seed_stream(job):
    return job.index if job.stream is None else job.stream


def spec_of_run(run):
    """The InputSpec a run trains for (recorded in its identity; absent: MNIST's)."""
    return InputSpec.from_dict(run["input"]) if "input" in run else MNIST


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

    Geometric keys go to augment.Augmenter; an optional "style" dict goes to
    augment.styles.StyleAugmenter, applied first (a drawn flag then turns with the digit), and an
    optional "pixel" dict to augment.pixel.PixelAugmenter, applied after the geometry.
    """
    check_augment(augment_kwargs)
    if not augment_kwargs:
        return None
    geometric = dict(augment_kwargs)
    pixel = geometric.pop("pixel", None) or {}
    style = geometric.pop("style", None) or {}
    parts = [p for p in (StyleAugmenter(**style), Augmenter(**geometric), PixelAugmenter(**pixel))
             if not p.is_identity]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Compose(parts)


def train_member(job, x_train, y_train, x_val, y_val, callbacks=()):
    """Train (or resume) member `job.index`; returns its metadata. x_* are float32 (N, C, H, W).

    x_train holds 0-1 images (augmentation and normalisation happen per batch); x_val is already
    normalised. Runs on `job.threads` of nnlib's own threads with one BLAS thread (nnlib splits
    the batch over its threads, which uses a second core far better than a second BLAS thread).
    `callbacks`: further nnlib callbacks, after the one writing the progress report.
    """
    nn.retain_freed_memory()   # keep big freed blocks in the heap: faster steps
    with worker_threads(job.threads):
        return _train_member(job, x_train, y_train, x_val, y_val, callbacks)


def _train_member(job, x_train, y_train, x_val, y_val, callbacks):
    preset, started = job.preset, time.time()
    init_rng, train_rng = member_rngs(job.seed, seed_stream(job))
    arch = member_arch(preset.arch, job.index)
    model = apply_recipe(build_model(arch, init_rng, spec=spec_of_run(job.run)), preset, init_rng)
    optimizer = build_optimizer(preset, model.parameters())
    batches = -(-len(x_train) // preset.batch_size)
    scheduler = build_scheduler(preset, optimizer, batches)
    transform = BatchTransform(build_augmenter(preset.augment), job.normalisation)
    checkpoint = checkpoint_path(job.out_dir, job.index)
    resumed = checkpoint.exists()
    epochs = preset.epochs
    if job.continue_to is not None or "init_from" in job.run:
        epochs, scheduler = prepare_start(job, model, optimizer, scheduler, checkpoint)
    best = RestoreBest(best_path(job.out_dir, job.index)) if preset.restore_best else None
    history = nn.fit(model, nn.SoftmaxCrossEntropy(label_smoothing=preset.label_smoothing),
                     optimizer, x_train, y_train, epochs=epochs,
                     batch_size=preset.batch_size, rng=train_rng, validation_data=(x_val, y_val),
                     augment=None if transform.is_identity else transform, scheduler=scheduler,
                     callbacks=[progress_writer(job, epochs), orphan_guard(job.out_dir),
                                *([best] if best else []), *callbacks],
                     checkpoint=str(checkpoint))
    meta = _metadata(job, arch, history, time.time() - started, resumed)
    meta["train_rng"] = train_rng.bit_generator.state  # with the optimizer: training can go on
    if best is not None:
        meta.update(best_epoch=best.best_epoch, val_acc=best.best_acc)
    check_finite_member(model, job.index)
    nn.save(model, member_path(job.out_dir, job.index), metadata=meta, optimizer=optimizer)
    checkpoint.unlink(missing_ok=True)
    best_path(job.out_dir, job.index).unlink(missing_ok=True)
    return meta


def progress_writer(job, epochs):
    return ProgressWriter(progress_path(job.out_dir, job.index), job.index, epochs)


def _metadata(job, arch, history, seconds, resumed):
    hist = history.to_dict()
    val_acc = hist["history"]["val_acc"]
    return {"index": job.index, "seed": job.seed, "spawn_key": [seed_stream(job)],
            "arch": arch, "preset": job.preset.to_dict(),
            "normalisation": job.normalisation, "history": hist,
            "val_acc": val_acc[-1] if val_acc else None, "train_seconds": round(seconds, 2),
            "resumed": resumed, "threads": job.threads, "blas_threads": 1, "run": job.run}
