"""contest: train ensembles of NumPy CNNs on MNIST-format digits and write contest submissions.

Modules: datasets (IDX files), inputs (user image files), preprocess (the model's input
normalisation), training (one member), ensemble (parallel training, manifest, loading, averaging),
submission (output files), report (PNG plots), display (terminal art), cli (the `contest` command).
Importing the package imports nothing heavy, so `contest predict-one` starts fast: the Python
API's `contest.Ensemble` (contest.api) is imported on first use.
"""
__version__ = "0.1.0"
__all__ = ["Ensemble"]


def __getattr__(name):
    if name == "Ensemble":
        from contest.api import Ensemble

        return Ensemble
    raise AttributeError(f"module 'contest' has no attribute {name!r}")
