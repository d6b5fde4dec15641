"""The extra views `contest evaluate --view NAME` adds to its text, by name.

A view is a function `view(evaluation) -> str` of an `Evaluation`; it is imported only when asked
for, so `contest --help` stays fast. Adding one touches three files: its module in
contest/evaluate/, its line in VIEWS, and its test (docs/CONTRIBUTING.md, "Where a change goes").
"""
from dataclasses import dataclass

VIEWS = {   # name -> "module:function"
    "per-class": "contest.evaluate.per_class:per_class_text",
}


@dataclass(frozen=True)
class Evaluation:
    """What `contest evaluate` computed: the ensemble (contest.modeldir.ensemble.LoadedEnsemble,
    whose `spec` names the classes), the images in contest's layout, their labels (N,) int64,
    the ensemble's mean probabilities (N, K) and every member's (M, N, K), float32."""
    ensemble: object
    images: object
    labels: object
    mean: object
    members: object


def view_text(name, evaluation):
    """The text of the view `name` (one of VIEWS) of `evaluation`."""
    from importlib import import_module

    module, function = VIEWS[name].split(":")
    return getattr(import_module(module), function)(evaluation)
