"""The Python API: a trained ensemble as a notebook user would guess it.

    from contest import Ensemble
    ensemble = Ensemble.load("models")
    ensemble.predict(x)          # (N,) int64 labels
    ensemble.predict_proba(x)    # (N, classes) float32, scikit-learn's shape
    ensemble.member_proba(x)     # (members, N, classes) float32

`x` is an array (or nested lists) of images in any layout contest.data.decode accepts ((N, H, W),
(N, C, H, W), (N, C*H*W) or one image), uint8/integer 0..255 or float 0..1, or the path of an
images file in any form it reads (.npy, .npz, .csv, .json, IDX, .png, .jpg, ...). The same decoder
reads the command line's and the service's inputs, so values are checked exactly alike: float
images on the 0..255 scale, out-of-range values, NaN or ragged lists raise ContestInputError (a
ValueError, with a one-line reason), never a silent wrong answer. `batch_size` must be a positive
integer. Members are loaded and verified (sha256, architecture) once, by `load`.
"""
import os
import threading

import numpy as np

from contest.data.decode import decode_array, decode_file
from contest.errors import ContestInputError


class Ensemble:
    """A verified ensemble; predictions average the members' softmax outputs."""

    def __init__(self, loaded):
        self._loaded = loaded   # contest.modeldir.ensemble.LoadedEnsemble
        self._lock = threading.Lock()  # a network's forward pass keeps per-call state

    @classmethod
    def load(cls, directory):
        """Load and verify every member of the model directory `directory`."""
        from contest.modeldir.ensemble import load_ensemble

        return cls(load_ensemble(directory))

    @property
    def loaded(self):
        """The underlying contest.modeldir.ensemble.LoadedEnsemble: directory, manifest,
        verified models."""
        return self._loaded

    @property
    def directory(self):
        return self._loaded.directory

    @property
    def manifest(self):
        return self._loaded.manifest

    @property
    def input_shape(self):
        """(channels, height, width) of the images the members take (the ensemble's spec)."""
        return self._loaded.spec.model_shape

    @property
    def classes(self):
        return self._loaded.spec.classes

    def __len__(self):
        return len(self._loaded.models)

    def __repr__(self):
        return f"Ensemble({str(self.directory)!r}, members={len(self)})"

    def prepare(self, x, source="x"):
        """Checked images in contest's layout ((N, H, W) grey, (N, H, W, C) colour; uint8 or
        float32 0..1) from an array, nested lists or an images file."""
        if isinstance(x, (str, os.PathLike)):
            return decode_file(x, self._loaded.spec)
        return decode_array(x, self._loaded.spec, source)

    def member_proba(self, x, batch_size=1000):
        """(members, N, classes) float32 softmax outputs of every member."""
        batch_size = check_batch_size(batch_size)
        return self.member_proba_checked(self.prepare(x), batch_size)

    def predict_proba(self, x, batch_size=1000):
        """(N, classes) float32: the mean of the members' probabilities."""
        from contest.modeldir.ensemble import average

        return average(self.member_proba(x, batch_size))

    def predict(self, x, batch_size=1000):
        """(N,) int64 predicted class of every image."""
        return self.predict_proba(x, batch_size).argmax(axis=1).astype(np.int64)

    def member_proba_checked(self, pixels, batch_size=1000, threads=None):
        """Like `member_proba` for images already checked by `prepare`; `threads`: worker
        threads (default: one per available core)."""
        with self._lock:
            return self._loaded.member_probabilities(pixels, batch_size, threads)


def check_batch_size(batch_size):
    """`batch_size` if it is a positive integer, else ContestInputError naming it."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or \
            batch_size < 1:
        raise ContestInputError("batch_size", f"must be a positive integer (received: "
                                              f"{batch_size!r})")
    return int(batch_size)
