"""contest: train ensembles of NumPy CNNs on labelled images (MNIST first) and write contest
submissions.

Subpackages: cli (the `contest` command: click commands, what each does, terminal text, the
output-path rule), data (datasets in every form and the bundled MNIST, the input spec, user image
files, submission files, normalisation), train (architectures, presets, one member, local and Dask
parallel training, more epochs and fine-tuning), modeldir (a model directory's files, manifest,
loading and verifying members, the lock), evaluate (robustness variants, test-time augmentation,
PNG reports), adapt (adapting to unlabelled contest images) and serve (the HTTP service and its
page). Modules: api (`contest.Ensemble`, the Python API), errors (the one-line errors), fileio
(atomic writes, hashing), blas_threads (BLAS at one thread while predicting). Importing the
package imports nothing heavy, so `contest predict-one` starts fast: `contest.Ensemble`
(contest.api) is imported on first use.
"""
__version__ = "0.1.0"   # the one version: pyproject.toml reads it (tool.setuptools.dynamic)
__all__ = ["Ensemble"]


def __getattr__(name):
    if name == "Ensemble":
        from contest.api import Ensemble

        return Ensemble
    raise AttributeError(f"module 'contest' has no attribute {name!r}")
