"""Accuracy of an ensemble on shifted test sets, without adaptation, with `predict --adapt bn` and
with `contest adapt`, each through the CLI (the commands are printed).

    python benchmarks/adapt_shift.py --models models                      # all sets, full size
    python benchmarks/adapt_shift.py --models models --sets thick,slant --limit 2000
    python benchmarks/adapt_shift.py --models m --limit 200 --rounds 1 --work /tmp/shift  # smoke
    python benchmarks/adapt_shift.py --models models-fashion --dataset fashion   # Fashion-MNIST

Shifted sets are built from the test split on disk (MNIST bundled, or Fashion-MNIST from
/usr/share/datasets/fashion-mnist when it exists; the ensemble must have been trained on the same
dataset): `none` (the test set itself: adaptation should cost nothing there), `thick` (strokes
dilated twice), `blur` (Gaussian, sigma 1.2), `slant` (shear 0.35, as an italic hand), `lowres`
(downsampled to 14x14 and back), `mixed` (thick + slant + lowres), `continental` (every 1 with a
flag, half of them with a foot, every 9 with a tail curled to the left, as writers outside the US
often draw them; drawn with wider ranges than the default preset's training styles, so that the
set is not the training distribution itself). The labels are used to draw the continental styles
and to score: `contest adapt` is given the images alone.
"""
from benchargs import Parser, run_main
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

FASHION = Path("/usr/share/datasets/fashion-mnist")
SETS = ("none", "thick", "blur", "slant", "lowres", "mixed", "continental")


def thick(x):
    from augment.pixel import stroke_width

    return stroke_width(stroke_width(x, True), True)


def blur(x):
    from augment.pixel import blur as gaussian

    return gaussian(x, 1.2)


def slant(x):
    from augment import affine

    return affine(x, shears=0.35)


def lowres(x):
    small = ndimage.zoom(x, (1, 0.5, 0.5), order=1, grid_mode=True, mode="grid-constant")
    return ndimage.zoom(small, (1, 2, 2), order=1, grid_mode=True, mode="grid-constant")


SHIFTS = {"none": lambda x: x, "thick": thick, "blur": blur, "slant": slant, "lowres": lowres,
          "mixed": lambda x: lowres(slant(thick(x)))}


def continental(x, labels, seed=0):
    """Every 1 of x (N, H, W) in [0, 1] flagged (half with a foot), every 9 with a curled tail;
    flags 20-50 % of the height turned 20-70 degrees from the stem, tails 15-45 % across and
    0-25 % up (the training styles: 25-40 %, 30-60 degrees; 20-35 % and 0-15 %)."""
    from augment.styles import add_flags, add_tails

    rng = np.random.default_rng(seed)
    out = x.copy()
    ones, nines = np.flatnonzero(labels == 1), np.flatnonzero(labels == 9)
    out[ones] = add_flags(x[ones], rng, length=(0.2, 0.5), angle=(20.0, 70.0), foot=(0.12, 0.35))
    out[nines] = add_tails(x[nines], rng, across=(0.15, 0.45), up=(0.0, 0.25))
    return out


def shifted_set(name, images, labels=None):
    """uint8 (N, 28, 28) images of the shifted set `name` made from 0-255 `images` (and their
    labels, which `continental` needs)."""
    x = images.astype(np.float32) / 255.0
    y = continental(x, labels) if name == "continental" else SHIFTS[name](x)
    return np.clip(np.rint(y * 255.0), 0, 255).astype(np.uint8)


def run(args):
    """Run a contest command; (stdout, seconds). Prints the command."""
    command = [sys.executable, "-m", "contest", *map(str, args)]
    print("  $ contest " + " ".join(map(str, args)), flush=True)
    started = time.time()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"command failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout, time.time() - started


def accuracy_of(text):
    match = re.search(r"(?:ensemble accuracy|accuracy): ([0-9.]+) %", text)
    return float(match.group(1))


def score_set(name, models, work, rounds, skip_adapt):
    """{method: (accuracy %, seconds)} for the set saved in work/NAME-images.npy."""
    images, labels = work / f"{name}-images.npy", work / f"{name}-labels.npy"
    out, seconds = run(["evaluate", "--models", models, "--images", images, "--labels", labels])
    results = {"none": (accuracy_of(out), seconds)}
    submission = work / f"{name}-bn.txt"
    _, seconds = run(["predict", images, "-o", submission, "--models", models, "--adapt", "bn"])
    out, _ = run(["score", submission, "--labels", labels])
    results["--adapt bn"] = (accuracy_of(out), seconds)
    if not skip_adapt:
        adapted = work / f"{name}-adapted"
        _, seconds = run(["adapt", "--models", models, "--images", images, "--out", adapted,
                          "--rounds", rounds, "--quiet"])
        out, _ = run(["evaluate", "--models", adapted, "--images", images, "--labels", labels])
        results["adapt"] = (accuracy_of(out), seconds)
    return results


def load_test(dataset, limit):
    from contest.data.datasets import load_split

    if dataset == "fashion" and not FASHION.is_dir():
        raise SystemExit(f"{FASHION} not found: apt-get install dataset-fashion-mnist")
    images, labels = load_split("test", FASHION if dataset == "fashion" else None)
    return images[:limit], labels[:limit]


def parse_args(argv=None):
    ap = Parser(__doc__)
    ap.add_argument("--models", required=True, help="model directory of the ensemble")
    ap.add_argument("--dataset", choices=["mnist", "fashion"], default="mnist",
                    help="test set to shift: MNIST (bundled) or Fashion-MNIST (Debian's "
                         "dataset-fashion-mnist) [default: mnist]")
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated shifted sets")
    ap.add_argument("--limit", type=int, default=None, help="first N test images only")
    ap.add_argument("--rounds", type=int, default=2, help="self-training rounds of `adapt`")
    ap.add_argument("--work", default="adapt-shift", help="directory for sets and adapted models")
    ap.add_argument("--skip-adapt", action="store_true", help="only no adaptation and --adapt bn")
    args = ap.parse_args(argv)
    args.sets = args.sets.split(",")
    unknown = sorted(set(args.sets) - set(SETS))
    if unknown:
        ap.error(f"--sets: unknown {unknown}; choose from {list(SETS)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    images, labels = load_test(args.dataset, args.limit)
    rows = []
    for name in args.sets:
        np.save(work / f"{name}-images.npy", shifted_set(name, images, labels))
        np.save(work / f"{name}-labels.npy", labels.astype(np.int64))
        print(f"{args.dataset} test, {name} ({len(labels)} images):", flush=True)
        results = score_set(name, args.models, work, args.rounds, args.skip_adapt)
        rows.append((name, results))
    print(f"\naccuracy (%) of {args.models} on shifted {args.dataset} test sets")
    methods = ["none", "--adapt bn"] + ([] if args.skip_adapt else ["adapt"])
    print(f"{'set':8}" + "".join(f"{m:>19}" for m in methods))
    for name, results in rows:
        cells = "".join(f"{results[m][0]:>10.2f} ({results[m][1]:>4.0f} s)" for m in methods)
        print(f"{name:8}{cells}")


if __name__ == "__main__":
    run_main(main)
