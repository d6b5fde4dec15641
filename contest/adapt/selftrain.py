"""One member's self-training round: a few epochs at a low learning rate, from the member's
current weights, on its training images plus the contest images that got pseudo-labels.

The member keeps its own recipe: its preset's batch size, optimizer and augmentation, and the
ensemble's normalisation, applied per batch as in training (contest.data.preprocess). The
learning rate is the preset's times `lr_scale`, constant. Everything random comes from
SeedSequence(seed, spawn_key=(ADAPT_KEY, round, index)), so results do not depend on how many
members train at once. A per-epoch checkpoint lets an interrupted round resume.
"""
import time
from dataclasses import dataclass, replace
from pathlib import Path

import nnlib as nn
import numpy as np

from contest.blas_threads import worker_threads
from contest.data.preprocess import BatchTransform
from contest.train.member import build_augmenter
from contest.train.options import build_optimizer
from contest.train.progress import ProgressWriter, progress_path

ADAPT_KEY = 7919   # keeps self-training's random streams apart from training's (index,)


@dataclass(frozen=True)
class RoundJob:
    """What a worker needs to self-train one member for one round (picklable, no arrays)."""
    index: int
    round: int
    seed: int
    preset: object          # contest.train.presets.Preset of the member
    normalisation: str
    source: str             # the member file the round starts from
    target: str             # the member file it writes
    epochs: int
    lr_scale: float
    threads: int


def round_rng(seed, round_number, index):
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ADAPT_KEY, round_number,
                                                                          index)))


def checkpoint_for(target):
    target = Path(target)
    return target.with_name(target.stem + ".ckpt.npz")


def self_train_member(job, x, y):
    """Self-train member `job.index` on 0-1 images x (N, C, H, W) and labels y; writes
    job.target and returns its adaptation metadata."""
    with worker_threads(job.threads):
        return _self_train(job, x, y)


def _self_train(job, x, y):
    started = time.time()
    model, meta = nn.load_with_metadata(job.source)
    preset = replace(job.preset, lr=job.preset.lr * job.lr_scale)
    optimizer = build_optimizer(preset, model.parameters())
    transform = BatchTransform(build_augmenter(preset.augment), job.normalisation)
    checkpoint = checkpoint_for(job.target)
    out_dir = Path(job.target).parent
    writer = ProgressWriter(progress_path(out_dir, job.index), job.index, job.epochs)
    history = nn.fit(model, nn.SoftmaxCrossEntropy(label_smoothing=preset.label_smoothing),
                     optimizer, x, y, epochs=job.epochs, batch_size=preset.batch_size,
                     rng=round_rng(job.seed, job.round, job.index),
                     augment=None if transform.is_identity else transform,
                     callbacks=[writer], checkpoint=str(checkpoint))
    rounds = list(meta.get("adapt_rounds", []))
    rounds.append({"round": job.round, "epochs": job.epochs, "lr": preset.lr,
                   "images": len(x), "loss": history.to_dict()["history"]["loss"],
                   "seconds": round(time.time() - started, 2)})
    nn.save(model, job.target, metadata={**meta, "adapt_rounds": rounds})
    checkpoint.unlink(missing_ok=True)
    return rounds[-1]
