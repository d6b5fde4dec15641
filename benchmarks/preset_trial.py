"""One training trial on the validation split (never the test set), for choosing preset values.

    python benchmarks/preset_trial.py --arch e --epochs 10 --lr 3e-3 --schedule onecycle \
        --augment '{"rotation": 10, "shift": 2, "zoom": 0.1}' --normalisation unit --threads 1

Trains on the first 55,000 training images, validates on the last 5,000 (--validation 10000:
the first 50,000 and the last 10,000, the protocol of trial_vote.py's paired comparison); prints per-epoch
validation accuracy and wall time, and at the end the accuracy on the validation images restyled
as benchmarks/adapt_shift.py's `continental` set (flagged 1s, curled 9s), overall and on those
two classes, and on the validation images under each variant of `contest evaluate
--robustness`. With --save FILE the member is written for benchmarks/trial_vote.py, which
scores several trial members as an ensemble on the same images.
"""
from benchargs import Parser, run_main
import dataclasses
import json
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(1, os.path.dirname(os.path.abspath(__file__)))
import nnlib as nn  # noqa: E402
from contest.train.architectures import build_model  # noqa: E402
from contest.data.datasets import load_split  # noqa: E402
from contest.train.presets import PRESETS  # noqa: E402
from contest.data.preprocess import (BatchTransform, NORMALISATIONS, normalise,  # noqa: E402
                                     to_unit_nchw)
from contest.data.spec import MNIST  # noqa: E402
from contest.evaluate.variants import iter_variants  # noqa: E402
from contest.train.member import build_augmenter, build_scheduler  # noqa: E402
from contest.train.options import build_optimizer  # noqa: E402
from adapt_shift import shifted_set  # noqa: E402


def parse_args():
    ap = Parser(__doc__)
    ap.add_argument("--preset", default="default", choices=sorted(PRESETS),
                    help="preset to start from [default: default]")
    for name, kind in (("--arch", str), ("--epochs", int), ("--lr", float), ("--schedule", str),
                       ("--augment", str), ("--optimizer", str), ("--label-smoothing", float),
                       ("--weight-decay", float), ("--batch-size", int)):
        ap.add_argument(name, type=kind, help=f"the preset's {name[2:].replace('-', '_')}, "
                                              "overridden (--augment: a JSON object)")
    ap.add_argument("--normalisation", default="unit", choices=sorted(NORMALISATIONS),
                    help="input normalisation [default: unit]")
    ap.add_argument("--seed", type=int, default=0, help="seed of the member [default: 0]")
    ap.add_argument("--threads", type=int, default=1, help="nnlib threads [default: 1]")
    ap.add_argument("--validation", type=int, default=5000,
                    help="hold out the last N training images for validation (10000: the "
                         "protocol of trial_vote.py --versus) [default: 5000]")
    ap.add_argument("--train-limit", type=int, default=None,
                    help="train on the first N images [default: all before the validation part]")
    ap.add_argument("--bootstrap", action="store_true",
                    help="bagging: train on a resample (with replacement, drawn from --seed) of "
                         "the training images, of their number")
    ap.add_argument("--save", help="write the trained member here (.npz), for trial_vote.py")
    return ap.parse_args()


def chosen_preset(a):
    """The named preset with the options given on the command line in its place."""
    over = {k: v for k, v in {"arch": a.arch, "epochs": a.epochs, "lr": a.lr, "schedule": a.schedule,
            "optimizer": a.optimizer, "label_smoothing": a.label_smoothing,
            "weight_decay": a.weight_decay, "batch_size": a.batch_size,
            "augment": json.loads(a.augment) if a.augment else None}.items() if v is not None}
    return dataclasses.replace(PRESETS[a.preset], **over)


def train_member(preset, a, xtr, ytr, xv, yv):
    """One member trained on (xtr, ytr), its validation accuracy printed every epoch."""
    rng = np.random.default_rng(a.seed)
    model = build_model(preset.arch, rng)
    opt = build_optimizer(preset, model.parameters())
    sched = build_scheduler(preset, opt, -(-len(xtr) // preset.batch_size))
    t0 = time.perf_counter()
    log = nn.LambdaCallback(on_epoch_end=lambda e, l: print(
        f"epoch {e + 1}: loss {l['loss']:.4f} acc {l['acc']:.4f} val_acc {l['val_acc']:.4f} "
        f"lr {l['lr']:.2e} ({time.perf_counter() - t0:.0f} s)", flush=True))
    with threadpool_limits(a.threads):
        nn.fit(model, nn.SoftmaxCrossEntropy(preset.label_smoothing), opt, xtr, ytr,
               preset.epochs, preset.batch_size, rng, validation_data=(xv, yv),
               augment=BatchTransform(build_augmenter(preset.augment), a.normalisation),
               scheduler=sched, callbacks=[log])
    return model


def report_variants(model, images, labels, normalisation):
    """The member on the validation images restyled as continental digits and under every
    robustness variant."""
    styled = normalise(shifted_set("continental", images, labels), normalisation, MNIST)
    right = model.predict(styled) == labels
    ones_nines = np.isin(labels, (1, 9))
    print(f"continental validation: {right.mean():.4f}; its 1s and 9s: "
          f"{right[ones_nines].mean():.4f} ({ones_nines.sum()} images)", flush=True)
    scores = {name: float((model.predict(normalise(variant, normalisation, MNIST)) == labels).mean())
              for name, variant in iter_variants(images, seed=0)}
    lowest = min(scores, key=scores.get)
    print("robustness variants of the validation images (contest evaluate --robustness's): "
          + ", ".join(f"{name} {score:.4f}" for name, score in scores.items())
          + f"; lowest {lowest} {scores[lowest]:.4f}", flush=True)


def main():
    a = parse_args()
    preset = chosen_preset(a)
    print(json.dumps(preset.to_dict()), "normalisation", a.normalisation, flush=True)
    x, y = load_split("train")
    start = len(x) - a.validation
    chosen = training_indices(a, start)
    xtr, ytr = to_unit_nchw(x[chosen], MNIST), y[chosen]
    xv, yv = normalise(x[start:], a.normalisation, MNIST), y[start:]
    model = train_member(preset, a, xtr, ytr, xv, yv)
    if a.save:
        nn.save(model, a.save, metadata={"normalisation": a.normalisation, "validation": a.validation})
    report_variants(model, x[start:], yv, a.normalisation)


def training_indices(a, start):
    """Indices of the training images: the first --train-limit before the validation part, or
    with --bootstrap a resample of them with replacement (its own stream of --seed)."""
    n = start if a.train_limit is None else min(a.train_limit, start)
    if not a.bootstrap:
        return np.arange(n)
    return np.sort(np.random.default_rng([a.seed, 1]).integers(0, n, size=n))

if __name__ == "__main__":
    run_main(main)
