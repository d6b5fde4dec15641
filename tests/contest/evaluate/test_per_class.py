"""`contest evaluate --view per-class` on the session's tiny ensemble: every row computed by hand
from the predictions."""
import re

import numpy as np

from contest.modeldir.ensemble import load_ensemble
from contest_testutil import invoke


def test_per_class_rows_match_the_predictions(models, tiny_test):
    result = invoke(["evaluate", "--models", models, "--view", "per-class"])
    assert result.exit_code == 0, result.output
    text = result.output.split("per class:\n")[1]
    images, labels = tiny_test
    predicted = load_ensemble(models).predict_proba(images)[0].argmax(axis=1)
    row_pattern = re.compile(r"(\d+)\s+(\d+)\s+(-|[\d.]+ %)\s+(-|[\d.]+ %)\s+(.+)")
    rows = [row_pattern.fullmatch(line.strip()).groups() for line in text.splitlines()[2:12]]
    assert [row[0] for row in rows] == [str(k) for k in range(10)]
    for k, (_, count, recall, precision, confused) in enumerate(rows):
        mine, chosen = labels == k, predicted == k
        assert int(count) == mine.sum()
        assert recall == f"{100 * np.mean(predicted[mine] == k):.2f} %"
        right = np.mean(labels[chosen] == k) if chosen.any() else None
        assert precision == ("-" if right is None else f"{100 * right:.2f} %")
        wrong = np.bincount(predicted[mine & ~chosen], minlength=10)
        assert confused == (f"{wrong.argmax()} ({wrong.max()})" if wrong.max() else "-")
    assert re.search(r"ensemble accuracy: ", result.output)
