"""Short recipe trials on the validation split of any data set (never its test set).

    python benchmarks/recipe_trial.py --data /usr/share/datasets/fashion-mnist --slice 15000 \\
        --epochs 2 --arch d --recipe general

Trains one member on the first --slice training images and validates on the last 5,000 training
images (the slice never reaches them); prints the validation accuracy and the wall time. --recipe
names an augmentation family of contest.train.recipes ("digit" = the default preset's) or is a
JSON augment dict.
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
import nnlib as nn  # noqa: E402
from contest.data.formats import load_data  # noqa: E402
from contest.data.preprocess import (BatchTransform, NORMALISATIONS, normalise,  # noqa: E402
                                     to_unit_nchw)
from contest.train.architectures import build_model  # noqa: E402
from contest.train.network import apply_recipe  # noqa: E402
from contest.train.member import build_augmenter, build_scheduler  # noqa: E402
from contest.train.options import build_optimizer  # noqa: E402
from contest.train.presets import PRESETS  # noqa: E402
from contest.train.recipes import AUGMENT_FAMILIES  # noqa: E402

VALIDATION = 5000


def parse_args():
    ap = Parser(__doc__)
    ap.add_argument("--data", required=True, help="labelled data in any form of --data of "
                                                  "`contest train-ensemble`")
    ap.add_argument("--slice", type=int, default=15000,
                    help="train on the first N training images [default: 15000]")
    ap.add_argument("--epochs", type=int, default=2, help="training epochs [default: 2]")
    ap.add_argument("--arch", default="d", help="architecture [default: d]")
    ap.add_argument("--recipe", default="general",
                    help=f"augmentation: one of {', '.join(sorted(AUGMENT_FAMILIES))}, or a JSON "
                         "object of augment.Augmenter arguments [default: general]")
    ap.add_argument("--lr", type=float, default=3e-3, help="peak learning rate [default: 3e-3]")
    ap.add_argument("--batch-size", type=int, default=128, help="batch size [default: 128]")
    ap.add_argument("--label-smoothing", type=float, default=0.0,
                    help="label smoothing of the loss [default: 0]")
    ap.add_argument("--normalisation", default="standardise", choices=sorted(NORMALISATIONS),
                    help="input normalisation [default: standardise]")
    ap.add_argument("--optimizer", default="adam", help="optimizer (contest.train.options."
                                                       "OPTIMIZERS) [default: adam]")
    ap.add_argument("--weight-decay", type=float, default=0.0,
                    help="weight decay (decoupled for adamw) [default: 0]")
    ap.add_argument("--dropout", type=float, default=None,
                    help="every Dropout's rate [default: the architecture's own]")
    ap.add_argument("--seed", type=int, default=0, help="seed of the member [default: 0]")
    ap.add_argument("--threads", type=int, default=1, help="nnlib threads [default: 1]")
    ap.add_argument("--save-proba", help="write the member's validation probabilities and labels "
                                         "here (.npz: proba, labels), to score ensembles")
    args = ap.parse_args()
    if not args.recipe.startswith("{") and args.recipe not in AUGMENT_FAMILIES:
        ap.error(f"--recipe: unknown recipe {args.recipe!r}; known: "
                 f"{', '.join(sorted(AUGMENT_FAMILIES))}, or a JSON object")
    return args


def main():
    a = parse_args()
    train = load_data(a.data, "train")
    spec = train.spec()
    augment = json.loads(a.recipe) if a.recipe.startswith("{") else AUGMENT_FAMILIES[a.recipe](spec)
    preset = dataclasses.replace(PRESETS["default"], arch=a.arch, epochs=a.epochs, lr=a.lr,
                                 augment=augment, label_smoothing=a.label_smoothing,
                                 batch_size=a.batch_size, optimizer=a.optimizer,
                                 weight_decay=a.weight_decay, dropout=a.dropout)
    images, labels = train.images, train.labels
    n_train = min(a.slice, len(images) - VALIDATION)
    xtr, ytr = to_unit_nchw(images[:n_train], spec), labels[:n_train]
    xv, yv = normalise(images[-VALIDATION:], a.normalisation, spec), labels[-VALIDATION:]
    rng = np.random.default_rng(a.seed)
    model = apply_recipe(build_model(preset.arch, rng, spec=spec), preset, rng)
    opt = build_optimizer(preset, model.parameters())
    sched = build_scheduler(preset, opt, -(-n_train // preset.batch_size))
    started = time.perf_counter()
    nn.set_num_threads(a.threads)
    with threadpool_limits(1):
        history = nn.fit(model, nn.SoftmaxCrossEntropy(label_smoothing=preset.label_smoothing), opt, xtr, ytr, preset.epochs,
                         preset.batch_size, rng, validation_data=(xv, yv),
                         augment=BatchTransform(build_augmenter(preset.augment), a.normalisation),
                         scheduler=sched)
    val = history.to_dict()["history"]["val_acc"]
    proba = model.predict_proba(xv)
    if a.save_proba:
        np.savez(a.save_proba, proba=proba, labels=yv)
    both = proba + model.predict_proba(np.ascontiguousarray(xv[..., ::-1]))
    flip_tta = float(np.mean(both.argmax(axis=1) == yv))  # mean of the image and its mirror
    settings = {k: v for k, v in vars(a).items() if k not in ("data", "threads", "save_proba")}
    print(json.dumps({**settings, "slice": n_train, "val_acc": [round(v, 4) for v in val],
                      "val_acc_flip_tta": round(flip_tta, 4),
                      "seconds": round(time.perf_counter() - started, 1)}), flush=True)

if __name__ == "__main__":
    run_main(main)
