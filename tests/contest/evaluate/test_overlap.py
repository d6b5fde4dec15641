"""The members' pairwise error overlap: a synthetic case counted by hand, and `contest evaluate`'s
lines on the tests' shared tiny ensemble checked against its own member accuracies."""
import re

import numpy as np

from contest.evaluate.overlap import error_overlap, overlap_text
from contest_testutil import invoke

LABELS = np.array([0, 1, 2, 3, 4, 5])
# member 0 misses images 0, 1, 2; member 1 misses 1, 2; member 2 misses 2 and 5
PREDICTIONS = np.array([[9, 9, 9, 3, 4, 5],
                        [0, 7, 7, 3, 4, 5],
                        [0, 1, 8, 3, 4, 6]])


def one_hot(predictions, classes=10):
    return np.eye(classes, dtype=np.float32)[predictions]


def test_shared_mistakes_counted_by_hand():
    ensemble = np.array([9, 7, 8, 3, 4, 5])   # wrong on images 0, 1 and 2
    overlap = error_overlap(PREDICTIONS, LABELS, ensemble)
    assert overlap["shared"] == [[3, 2, 1], [2, 2, 1], [1, 1, 2]]
    # 2/3, 1/3 | 2/2, 1/2 | 1/2, 1/2
    assert np.isclose(overlap["mean_shared_fraction"], (2 / 3 + 1 / 3 + 1 + 0.5 + 0.5 + 0.5) / 6)
    assert overlap["shared_fraction_range"] == [1 / 3, 1.0]
    # images 3, 4 right everywhere; 0 and 5 missed by one member; 1 by two; 2 by all three
    assert overlap["images_by_members_wrong"] == [2, 2, 1, 1]
    assert overlap["ensemble_wrong_by_members_wrong"] == [0, 1, 1, 1]


def test_probabilities_are_read_by_their_argmax():
    labels_given = error_overlap(PREDICTIONS, LABELS, PREDICTIONS[0])
    probabilities_given = error_overlap(one_hot(PREDICTIONS), LABELS, PREDICTIONS[0])
    assert labels_given == probabilities_given


def test_members_without_mistakes_leave_the_fraction_undefined():
    right = np.tile(LABELS, (2, 1))
    overlap = error_overlap(right, LABELS, LABELS)
    assert overlap["shared"] == [[0, 0], [0, 0]]
    assert overlap["mean_shared_fraction"] is None
    assert "on average" not in overlap_text(right, LABELS, LABELS)


def test_text_shows_the_matrix_and_the_counts():
    text = overlap_text(PREDICTIONS, LABELS, np.array([9, 7, 8, 3, 4, 5]))
    assert re.search(r"^0 +3 +2 +1$", text, re.M) and re.search(r"^2 +1 +1 +2$", text, re.M)
    assert "58 % on average (pairs 33-100 %)" in text
    assert re.search(r"^images +2 +1 +1$", text, re.M)
    assert re.search(r"^ensemble wrong +1 +1 +1$", text, re.M)
    assert overlap_text(PREDICTIONS[:1], LABELS, PREDICTIONS[0]) == ""


def test_evaluate_prints_the_overlap_of_its_members(models, exported):
    result = invoke(["evaluate", "--models", models, "--images", exported[0],
                     "--labels", exported[1]])
    assert result.exit_code == 0, result.output
    text = result.output
    accuracies = [int(n) for n in re.findall(r"^\d +\d+\.\d\d % \((\d+)/200\)$", text, re.M)]
    assert len(accuracies) == 2
    block = text[text.index("shared mistakes"):]
    diagonal = [int(re.search(rf"^{m} +(\d+) +(\d+)$", block, re.M).group(1 + m))
                for m in range(2)]
    assert diagonal == [200 - correct for correct in accuracies]
    by_count = re.search(r"^images +(\d+) +(\d+)$", block, re.M)
    # every mistake is made by one member or by both: the counts add up to the diagonal
    assert int(by_count.group(1)) + 2 * int(by_count.group(2)) == sum(diagonal)


def test_report_draws_the_overlap_below_the_confusion_matrix(tmp_path):
    from PIL import Image

    from contest.evaluate.plots import plot_evaluation

    images = np.zeros((6, 28, 28), dtype=np.uint8)
    ensemble = np.array([9, 7, 8, 3, 4, 5])
    matrix = np.eye(10, dtype=np.int64)
    plot_evaluation(matrix, images, LABELS, ensemble, tmp_path / "plain.png")
    plot_evaluation(matrix, images, LABELS, ensemble, tmp_path / "overlap.png",
                    overlap=error_overlap(PREDICTIONS, LABELS, ensemble))
    plain, with_overlap = (Image.open(tmp_path / name).size for name in ("plain.png",
                                                                         "overlap.png"))
    assert with_overlap[1] > plain[1] + 250   # a 4-inch panel at 100 dpi below the same figure
