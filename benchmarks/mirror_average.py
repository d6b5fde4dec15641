"""Does averaging each image with its left-right mirror help a trained ensemble? Measured on the
ensemble's validation split (the choice) and reported on the test split.

    python benchmarks/mirror_average.py --models models-fashion \\
        --data /usr/share/datasets/fashion-mnist

The validation split is the one `train-ensemble` held out: the last `validation_size` images of
the training data recorded in the manifest. Prints, for both splits, the ensemble's accuracy with
and without mirror averaging and the members' accuracies both ways.
"""
from benchargs import Parser, run_main
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from contest.api import Ensemble  # noqa: E402
from contest.data.datasets import train_validation_split  # noqa: E402
from contest.data.formats import load_data  # noqa: E402
from contest.modeldir.ensemble import accuracy, average  # noqa: E402


def scores(ensemble, images, labels):
    """(ensemble plain, ensemble mirror-averaged, members plain, members mirror-averaged) in %."""
    plain = ensemble.member_proba(images)
    mirrored = ensemble.member_proba(np.ascontiguousarray(images[:, :, ::-1]))
    both = (plain + mirrored) / 2

    def pct(probabilities):
        return 100 * accuracy(probabilities.argmax(axis=-1), labels)[0]
    return (pct(average(plain)), pct(average(both)), [pct(p) for p in plain],
            [pct(p) for p in both])


def main():
    ap = Parser(__doc__)
    ap.add_argument("--models", required=True, help="model directory of the ensemble to score")
    ap.add_argument("--data", required=True, help="the training data (with its test split)")
    args = ap.parse_args()
    ensemble = Ensemble.load(args.models)
    manifest = json.loads((Path(args.models) / "ensemble.json").read_text())
    train = load_data(args.data)
    _, validation = train_validation_split(train.images, train.labels,
                                           manifest["data"]["validation_size"],
                                           manifest["data"].get("train_limit"))
    test = load_data(args.data, "test")
    for name, (images, labels) in (("validation", validation), ("test", (test.images,
                                                                          test.labels))):
        plain, mirror, members, members_mirror = scores(ensemble, images, labels)
        print(f"{name} ({len(labels)} images): ensemble {plain:.2f} % -> {mirror:.2f} % "
              f"mirror-averaged; members {' '.join(f'{m:.2f}' for m in members)} -> "
              f"{' '.join(f'{m:.2f}' for m in members_mirror)}")


if __name__ == "__main__":
    run_main(main)
