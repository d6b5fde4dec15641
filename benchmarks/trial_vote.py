"""Members saved by benchmarks/preset_trial.py --save, scored alone and as an ensemble (their
softmax outputs averaged) on the validation images (the last 5,000 training images, never the
test set), clean and under every variant of `contest evaluate --robustness`:

    python benchmarks/trial_vote.py trial-seed0.npz trial-seed1.npz

An ensemble can rank recipes differently from its members (members that err on different images
gain more from the vote), so a recipe meant for the ensemble is compared here too.
"""
from benchargs import Parser, run_main
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import nnlib as nn  # noqa: E402
from contest.data.datasets import load_split  # noqa: E402
from contest.data.preprocess import normalise  # noqa: E402
from contest.evaluate.variants import iter_variants  # noqa: E402


def main():
    ap = Parser(__doc__)
    ap.add_argument("members", nargs="+", help="member files written by preset_trial.py --save")
    a = ap.parse_args()
    loaded = [nn.load_with_metadata(path) for path in a.members]
    x, y = load_split("train")
    xv, yv = x[55000:], y[55000:]
    print("variant         " + " ".join(f"m{i + 1:<6}" for i in range(len(loaded)))
          + " mean    ensemble")
    lowest = (None, 2.0)
    for name, images in [("clean", xv), *iter_variants(xv, seed=0)]:
        probs = [model.predict_proba(normalise(images, meta["normalisation"]))
                 for model, meta in loaded]
        alone = [float((p.argmax(1) == yv).mean()) for p in probs]
        vote = float((np.mean(probs, axis=0).argmax(1) == yv).mean())
        lowest = min(lowest, (name, vote), key=lambda item: item[1])
        print(f"{name:<15} " + " ".join(f"{100 * s:6.2f}" for s in alone)
              + f" {100 * np.mean(alone):6.2f}  {100 * vote:6.2f}", flush=True)
    print(f"lowest ensemble accuracy: {100 * lowest[1]:.2f} % ({lowest[0]})")


if __name__ == "__main__":
    run_main(main)
