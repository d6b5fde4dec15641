"""Members saved by benchmarks/preset_trial.py --save, scored alone and as an ensemble (their
softmax outputs averaged) on the validation images (the last training images, never the test
set), clean and under every variant of `contest evaluate --robustness`:

    python benchmarks/trial_vote.py trial-seed0.npz trial-seed1.npz

An ensemble can rank recipes differently from its members (members that err on different images
gain more from the vote), so a recipe meant for the ensemble is compared here too. The members'
pairwise error overlap (contest.evaluate.overlap) follows the table.

The protocol for recipe choices that must see 0.05 points: members trained with
`preset_trial.py --validation 10000` (50,000 training images, the last 10,000 held out), and two
ensembles compared on the same images:

    python benchmarks/trial_vote.py A-0.npz A-1.npz A-2.npz --versus B-0.npz B-1.npz B-2.npz \\
        --clean-only --select

The comparison is paired (McNemar): only images that one ensemble gets right and the other wrong
tell them apart, so the standard error of the difference is sqrt(discordant) / images (10,000
images and 30 discordant ones: 0.055 points), far below the 0.06-0.09 points of either accuracy
alone. --select adds greedy selection and validation-fitted weights, fitted on one half of the
validation images and scored on the other (both ways), never on the images they are scored on.
"""
from benchargs import Parser, run_main
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(1, os.path.dirname(os.path.abspath(__file__)))
import nnlib as nn  # noqa: E402
from contest.data.datasets import load_split  # noqa: E402
from contest.data.preprocess import normalise  # noqa: E402
from contest.data.spec import MNIST  # noqa: E402
from contest.evaluate.overlap import overlap_text  # noqa: E402
from contest.evaluate.variants import iter_variants  # noqa: E402
from paired import (add_ensemble_arguments, mixed_text, paired_text, selection_text,  # noqa: E402
                    subsets_text)


def parse_args():
    ap = Parser(__doc__)
    add_ensemble_arguments(ap, "preset_trial.py --save")
    ap.add_argument("--validation", type=int, default=None,
                    help="score on the last N training images [default: the members' own "
                         "--validation, 5000 for members saved without it]")
    ap.add_argument("--clean-only", action="store_true", help="skip the robustness variants")
    ap.add_argument("--subsets", type=int, default=None, metavar="K",
                    help="with --versus: also the mean accuracy of every K-member sub-ensemble "
                         "of each side, a figure that leans less on any one member")
    ap.add_argument("--mixed", type=int, default=None, metavar="K",
                    help="with --versus listing the same seeds in the same order: the mean "
                         "accuracy of every K-member ensemble of distinct seeds that mixes "
                         "members of both sides")
    ap.add_argument("--select", action="store_true",
                    help="also greedy member selection and fitted weights, cross-fitted on halves")
    return ap.parse_args()


def load_members(paths, validation):
    loaded = [nn.load_with_metadata(path) for path in paths]
    held = {meta.get("validation", 5000) for _, meta in loaded}
    if validation is None and len(held) > 1:
        raise ValueError(f"members held out different validation sizes {sorted(held)}: "
                         "give --validation")
    return loaded, validation or held.pop()


def probabilities(loaded, images):
    return np.stack([model.predict_proba(normalise(images, meta["normalisation"], MNIST))
                     for model, meta in loaded])


def variant_table(loaded, xv, yv, clean_only):
    """Print each member's, the mean member's and the ensemble's accuracy per variant; the
    clean probabilities (members, images, classes)."""
    print("variant         " + " ".join(f"m{i + 1:<6}" for i in range(len(loaded)))
          + " mean    ensemble")
    lowest, clean = (None, 2.0), None
    variants = [] if clean_only else list(iter_variants(xv, seed=0))
    for name, images in [("clean", xv), *variants]:
        probs = probabilities(loaded, images)
        clean = probs if clean is None else clean
        alone = [float((p.argmax(1) == yv).mean()) for p in probs]
        vote = float((probs.mean(axis=0).argmax(1) == yv).mean())
        lowest = min(lowest, (name, vote), key=lambda item: item[1])
        print(f"{name:<15} " + " ".join(f"{100 * s:6.2f}" for s in alone)
              + f" {100 * np.mean(alone):6.2f}  {100 * vote:6.2f}", flush=True)
    if variants:
        print(f"lowest ensemble accuracy: {100 * lowest[1]:.2f} % ({lowest[0]})")
    return clean


def main():
    a = parse_args()
    loaded, validation = load_members(a.members, a.validation)
    x, y = load_split("train")
    xv, yv = x[len(x) - validation:], y[len(y) - validation:]
    print(f"validation: the last {validation} training images")
    clean = variant_table(loaded, xv, yv, a.clean_only)
    print(overlap_text(clean, yv, clean.mean(axis=0).argmax(1)))
    if a.select:
        print(selection_text(clean, yv))
    if a.versus:
        other, _ = load_members(a.versus, validation)
        print("\nversus:")
        clean_b = variant_table(other, xv, yv, clean_only=True)
        print(overlap_text(clean_b, yv, clean_b.mean(axis=0).argmax(1)))
        print(paired_text(clean.mean(axis=0).argmax(1), clean_b.mean(axis=0).argmax(1), yv))
        if a.subsets:
            print(subsets_text(clean, clean_b, yv, a.subsets))
        if a.mixed:
            print(mixed_text(clean, clean_b, yv, a.mixed))


if __name__ == "__main__":
    run_main(main)
