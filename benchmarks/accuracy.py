"""Train a preset from scratch with the CLI and report what the issue's acceptance asks for.

    python benchmarks/accuracy.py                         # default preset, 5 members (~20 min)
    python benchmarks/accuracy.py --preset large --n 6 --out models-large   # ~1 h 50 min
    python benchmarks/accuracy.py --preset fast --n 2 --train-limit 500 --epochs 1   # smoke run
    python benchmarks/accuracy.py --skip-train --out models                       # evaluate only

Runs `contest train-ensemble` in a subprocess (a cold start, so the wall time includes imports
and data loading), then prints: machine facts, the training wall time, per-member and ensemble
test accuracy, the robustness table of `contest evaluate --robustness` (same code), and ensemble
accuracy with and without test-time augmentation on the validation split (the last
`validation_size` training images, never the test set) with a recommendation for `--tta`.
"""
from benchargs import Parser, run_main
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import machine_facts  # noqa: E402

TTA_MIN_GAIN = 0.0005  # recommend --tta only for at least +0.05 points of validation accuracy


def parse_args(argv=None):
    ap = Parser(__doc__)
    ap.add_argument("--preset", default="default", help="fast | default | large")
    ap.add_argument("--n", type=int, default=5, help="number of members")
    ap.add_argument("--out", default=None, help="model directory [default: models-PRESET]")
    ap.add_argument("--seed", type=int, default=0, help="training and robustness seed")
    ap.add_argument("--train-limit", type=int, default=None, help="first N training images only")
    ap.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    ap.add_argument("--jobs", type=int, default=None,
                    help="worker processes [train-ensemble's default]")
    ap.add_argument("--skip-train", action="store_true", help="evaluate an existing --out")
    ap.add_argument("--batch-size", type=int, default=1000, help="images per inference batch")
    args = ap.parse_args(argv)
    args.out = Path(args.out or f"models-{args.preset}")
    return args


def train_command(args):
    command = [sys.executable, "-m", "contest", "train-ensemble", "--preset", args.preset,
               "--n", str(args.n), "--out", str(args.out), "--seed", str(args.seed)]
    for flag, value in (("--train-limit", args.train_limit), ("--epochs", args.epochs),
                        ("--jobs", args.jobs)):
        if value is not None:
            command += [flag, str(value)]
    return command


def train(args):
    """Run train-ensemble from scratch in a subprocess; its wall time in seconds."""
    if (args.out / "ensemble.json").exists() or (args.out / "run.json").exists():
        sys.exit(f"{args.out}: already holds a model directory; delete it for a from-scratch "
                 f"timing, or pass --skip-train to evaluate it")
    command = train_command(args)
    print("$", " ".join(command[2:]), flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"train-ensemble failed with exit status {result.returncode}")
    return seconds


def test_accuracies(ensemble, images, labels, batch_size):
    """Text of per-member and ensemble test accuracy; (mean, members) probabilities."""
    from contest.cli.display import percent, table
    from contest.modeldir.ensemble import accuracy

    mean, members = ensemble.predict_proba(images, batch_size)
    rows = [[str(m), percent(accuracy(p, labels)[0])] for m, p in enumerate(members)]
    member_mean = sum(accuracy(p, labels)[0] for p in members) / len(members)
    rows += [["mean member", percent(member_mean)],
             ["ensemble", percent(accuracy(mean, labels)[0])]]
    text = f"test set ({len(labels)} images):\n" + table(["member", "test accuracy"], rows)
    return text, (mean, members)


def validation_split(manifest):
    """(images, labels) of the validation split the ensemble was trained with."""
    from contest.data.datasets import load_split, train_validation_split

    data = manifest["data"]
    images, labels = load_split("train", data.get("dir"))
    _, (x_val, y_val) = train_validation_split(images, labels, data["validation_size"],
                                               data.get("train_limit"))
    return x_val, y_val


def tta_text(ensemble, manifest, batch_size):
    """Validation accuracy without and with TTA, and whether to use --tta."""
    from contest.modeldir.ensemble import accuracy
    from contest.evaluate.tta import DEFAULT_SHIFTS, tta_probabilities

    images, labels = validation_split(manifest)
    plain, plain_correct = accuracy(ensemble.predict_proba(images, batch_size)[0], labels)
    tta, tta_correct = accuracy(tta_probabilities(ensemble, images, DEFAULT_SHIFTS,
                                                  batch_size)[0], labels)
    helps = tta - plain >= TTA_MIN_GAIN
    verdict = ("use --tta" if helps else "keep --tta off") + (
        f" (gain {100 * (tta - plain):+.2f} points; threshold +{100 * TTA_MIN_GAIN:.2f})")
    if len(labels) < 1000:
        verdict += f"; but {len(labels)} images are too few to decide"
    return "\n".join([
        f"validation split ({len(labels)} images, the last of the training set):",
        f"  ensemble without TTA: {100 * plain:.2f} % ({plain_correct}/{len(labels)})",
        f"  ensemble with TTA ({len(DEFAULT_SHIFTS)} shifts): {100 * tta:.2f} % "
        f"({tta_correct}/{len(labels)})",
        f"  recommendation: {verdict}"])


def evaluate(args):
    """Print test accuracies, the robustness table and the TTA comparison of args.out."""
    from contest.data.datasets import load_split
    from contest.modeldir.ensemble import load_ensemble
    from contest.evaluate.robustness import evaluate_robustness, robustness_text

    ensemble = load_ensemble(args.out)
    manifest = ensemble.manifest
    images, labels = load_split("test", (manifest.get("data") or {}).get("dir"))
    text, known = test_accuracies(ensemble, images, labels, args.batch_size)
    print(text, flush=True)
    started = time.perf_counter()
    table, _ = evaluate_robustness(ensemble, images, labels, args.seed, None, args.batch_size,
                                   known=known)
    print(robustness_text(table, args.seed, len(labels)))
    print(f"(robustness evaluation: {time.perf_counter() - started:.0f} s)", flush=True)
    print(tta_text(ensemble, manifest, args.batch_size), flush=True)


def main(argv=None):
    args = parse_args(argv)
    print(machine_facts(), flush=True)
    if args.skip_train:
        print(f"evaluating the existing {args.out} (no training)")
    else:
        seconds = train(args)
        print(f"training wall time: {seconds:.0f} s ({seconds / 60:.1f} min) for "
              f"--preset {args.preset} --n {args.n}", flush=True)
    evaluate(args)


if __name__ == "__main__":
    run_main(main)
