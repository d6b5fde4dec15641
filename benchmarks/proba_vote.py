"""Trial members of any data set, scored alone and as an ensemble from their saved validation
probabilities (`benchmarks/recipe_trial.py --save-proba FILE`), and two ensembles compared on the
same images (paired, as benchmarks/trial_vote.py does for MNIST members):

    python benchmarks/proba_vote.py new-0.npz new-1.npz --versus base-0.npz base-1.npz

Every file holds `proba` (images, classes) and `labels` (images) of the same validation images
(the last training images, never the test set); the ensemble is the plain average of the
members' probabilities, as `contest predict` takes it.
"""
from benchargs import Parser, run_main
import os
import sys

import numpy as np

sys.path.insert(1, os.path.dirname(os.path.abspath(__file__)))
from paired import add_ensemble_arguments, paired_text, vote_accuracy  # noqa: E402


def parse_args():
    ap = Parser(__doc__)
    add_ensemble_arguments(ap, "recipe_trial.py --save-proba")
    return ap.parse_args()


def load_probabilities(paths):
    """(members, images, classes) probabilities and the labels all the files share."""
    probs, labels = [], None
    for path in paths:
        with np.load(path) as saved:
            probs.append(saved["proba"])
            if labels is None:
                labels = saved["labels"]
            elif not np.array_equal(labels, saved["labels"]):
                raise ValueError(f"{path}: its validation labels differ from {paths[0]}'s")
    return np.stack(probs), labels


def ensemble_text(name, probs, labels):
    """One line: each member's accuracy, their mean, and the ensemble's."""
    members = [(p.argmax(axis=1) == labels).mean() for p in probs]
    return (f"{name}: members " + " ".join(f"{100 * m:.2f}" for m in members)
            + f" % (mean {100 * np.mean(members):.2f} %), ensemble "
            f"{100 * vote_accuracy(probs, labels):.2f} % of {len(labels)}")


def main():
    a = parse_args()
    every, labels = load_probabilities(a.members + a.versus)   # one check that all share images
    probs, other = every[:len(a.members)], every[len(a.members):]
    print(ensemble_text("A", probs, labels))
    if a.versus:
        print(ensemble_text("B", other, labels))
        print(paired_text(probs.mean(axis=0).argmax(axis=1), other.mean(axis=0).argmax(axis=1),
                          labels))


if __name__ == "__main__":
    run_main(main)
