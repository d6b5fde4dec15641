"""contest: train ensembles of NumPy CNNs on MNIST-format digits and write contest submissions.

Subpackages: data (datasets in every contest form and the bundled MNIST, the input spec, user
image files, the one PNG loader, input normalisation), train (architectures, presets, one member,
local and Dask parallel training, progress, finishing, more epochs and fine-tuning) and serve (the
HTTP service and its page). Modules: api (`contest.Ensemble`, the Python API), ensemble (loading,
verifying and averaging members), submission (output files), report (PNG plots), display
(terminal art), robustness (harder test variants), outputs and modeldir (what a command may
write), cli (the `contest` command). Importing the package imports nothing heavy, so `contest
predict-one` starts fast: `contest.Ensemble` (contest.api) is imported on first use.
"""
__version__ = "0.1.0"   # the one version: pyproject.toml reads it (tool.setuptools.dynamic)
__all__ = ["Ensemble"]


def __getattr__(name):
    if name == "Ensemble":
        from contest.api import Ensemble

        return Ensemble
    raise AttributeError(f"module 'contest' has no attribute {name!r}")
