"""contest: train ensembles of NumPy CNNs on MNIST-format digits and write contest submissions.

Subpackages: data (IDX datasets and the bundled MNIST, user image files, input normalisation) and
train (architectures, presets, one member, local and Dask parallel training, progress, finishing).
Modules: ensemble (loading, verifying and averaging members), submission (output files), report
(PNG plots), display (terminal art), robustness (harder test variants), cli (the `contest`
command). Importing the package imports nothing heavy, so `contest predict-one` starts fast.
"""
__version__ = "0.1.0"   # the one version: pyproject.toml reads it (tool.setuptools.dynamic)
