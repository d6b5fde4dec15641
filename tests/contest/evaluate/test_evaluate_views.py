"""`contest evaluate --view NAME`: a view named in contest.evaluate.views.VIEWS gets what evaluate
computed and adds its text; an unknown name is refused before any work."""
import numpy as np

from contest.cli.run import run_evaluate
from contest.evaluate import views
from contest_testutil import assert_refused, invoke

SEEN = []


def count_view(evaluation):
    """A view for the test: records what it was given."""
    SEEN.append(evaluation)
    return f"counted {len(evaluation.labels)} labels"


def test_a_registered_view_gets_the_evaluation_and_adds_its_text(models, tiny_test, monkeypatch):
    monkeypatch.setitem(views.VIEWS, "count", f"{__name__}:count_view")
    SEEN.clear()
    text = run_evaluate(models, views=("count",))
    assert text.splitlines()[-1] == "counted 200 labels"
    evaluation = SEEN[0]
    np.testing.assert_array_equal(evaluation.labels, tiny_test[1])
    assert evaluation.mean.shape == (200, 10) and evaluation.members.shape == (2, 200, 10)
    np.testing.assert_allclose(evaluation.members.mean(axis=0), evaluation.mean, atol=1e-6)
    assert evaluation.images.shape == (200, 28, 28) and evaluation.ensemble.spec.classes == 10


def test_an_unknown_view_is_refused_in_one_line(models):
    assert_refused(invoke(["evaluate", "--models", models, "--view", "nope"]), "--view")
