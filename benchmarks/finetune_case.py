"""Fine-tuning an ensemble on a few labelled images of a restyled digit set, against training
from scratch on the same images (issue 19), each through the CLI (the commands are printed).

    python benchmarks/finetune_case.py --models models            # the default ensemble
    python benchmarks/finetune_case.py --models m --tune 300 --work /tmp/ft    # smoke

The restyled set is the MNIST test set under one of `benchmarks/adapt_shift.py`'s shifts
(`mixed` by default: strokes thickened, slanted, scanned at half resolution). Its first --tune
images, with labels, are the fine-tuning data (tune.npz; `train-ensemble` keeps a tenth of them
for validation); the other images are only scored (rest.npz). Printed: the source ensemble on the
rest, then the ensembles fine-tuned with `--init-from` (features frozen, and every layer trained)
and one trained from scratch on the same images with the default preset, all with --n members.
"""
from benchargs import Parser, run_main
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from adapt_shift import SETS, accuracy_of, load_test, run, shifted_set  # noqa: E402


def write_sets(work, shift, tune):
    images, labels = load_test("mnist", None)
    restyled = shifted_set(shift, images)
    np.savez(work / "tune.npz", x=restyled[:tune], y=labels[:tune].astype(np.int64))
    np.savez(work / "rest.npz", x=restyled[tune:], y=labels[tune:].astype(np.int64))
    np.save(work / "rest-images.npy", restyled[tune:])
    np.save(work / "rest-labels.npy", labels[tune:].astype(np.int64))
    return len(labels) - tune


def trained(work, name, extra, members):
    """Test accuracy (%) on rest.npz and seconds of one train-ensemble run into work/NAME."""
    out = work / name
    _, seconds = run(["train-ensemble", "--data", work / "tune.npz", "--test", work / "rest.npz",
                      "--n", members, "--out", out, *extra])
    manifest = json.loads((out / "ensemble.json").read_text())
    return 100 * manifest["test_accuracy"], seconds


def main():
    ap = Parser(__doc__)
    ap.add_argument("--models", required=True, help="the source (MNIST) ensemble")
    ap.add_argument("--shift", choices=SETS, default="mixed",
                    help="the restyled set (a shift of adapt_shift.py) [default: mixed]")
    ap.add_argument("--tune", type=int, default=1000, help="labelled restyled images to train on")
    ap.add_argument("--n", type=int, default=5, help="members of every trained ensemble")
    ap.add_argument("--work", default="finetune-case",
                    help="directory for the data files and ensembles it writes "
                         "[default: finetune-case]")
    args = ap.parse_args()
    work = Path(args.work)
    if work.exists() and any(work.iterdir()):
        raise SystemExit(f"--work {work}: not empty; give a new directory")
    work.mkdir(parents=True, exist_ok=True)
    rest = write_sets(work, args.shift, args.tune)
    print(f"restyled set: MNIST test, {args.shift}; {args.tune} labelled for training, "
          f"{rest} scored", flush=True)
    out, seconds = run(["evaluate", "--models", args.models, "--images",
                        work / "rest-images.npy", "--labels", work / "rest-labels.npy"])
    rows = [("the MNIST ensemble as it is", accuracy_of(out), seconds)]
    runs = [("fine-tuned, --init-from --freeze features", "tuned-frozen",
             ["--init-from", args.models, "--freeze", "features"]),
            ("fine-tuned, --init-from, every layer", "tuned-all", ["--init-from", args.models]),
            ("trained from scratch (default preset)", "scratch", [])]
    for label, name, extra in runs:
        rows.append((label, *trained(work, name, extra, args.n)))
    print(f"\naccuracy on the {rest} other restyled images ({args.n} members each)")
    for label, accuracy, seconds in rows:
        print(f"{label:45} {accuracy:6.2f} %  ({seconds:4.0f} s)")


if __name__ == "__main__":
    run_main(main)
