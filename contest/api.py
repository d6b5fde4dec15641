"""The Python API: a trained ensemble as a notebook user would guess it.

    from contest import Ensemble
    ensemble = Ensemble.load("models")
    ensemble.predict(x)          # (N,) int64 labels
    ensemble.predict_proba(x)    # (N, classes) float32, scikit-learn's shape
    ensemble.member_proba(x)     # (members, N, classes) float32

`x` is an array of images in any layout `contest.data.images.check_pixels` accepts ((N, H, W),
(N, C, H, W), (N, C*H*W) or one image), uint8/integer 0..255 or float 0..1, or the path of an
images file (.npy, .csv, .png). Values are checked exactly as the CLI checks them: float images on
the 0..255 scale, out-of-range values or NaN raise ContestInputError (a one-line reason), never a
silent wrong answer. Members are loaded and verified (sha256, architecture) once, by `load`.
"""
import os
import threading

import numpy as np

from contest.data.images import check_pixels


class Ensemble:
    """A verified ensemble; predictions average the members' softmax outputs."""

    def __init__(self, loaded):
        self._loaded = loaded   # contest.modeldir.ensemble.Ensemble: directory, manifest, models
        self._lock = threading.Lock()  # a network's forward pass keeps per-call state

    @classmethod
    def load(cls, directory):
        """Load and verify every member of the model directory `directory`."""
        from contest.modeldir.ensemble import load_ensemble

        return cls(load_ensemble(directory))

    @property
    def loaded(self):
        """The underlying contest.modeldir.ensemble.Ensemble: directory, manifest, verified
        models."""
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
        """Checked (N, C, H, W) uint8 or float32 pixels from an array or an images file."""
        if isinstance(x, (str, os.PathLike)):
            from contest.data.inputs import load_images

            source, x = str(x), load_images(x, self._loaded.spec)
            if x.ndim == 4:   # colour files come in contest's layout (N, H, W, C)
                x = np.moveaxis(x, 3, 1)
        return check_pixels(x, source, self.input_shape)

    def member_proba(self, x, batch_size=1000):
        """(members, N, classes) float32 softmax outputs of every member."""
        return self.member_proba_checked(self.prepare(x), batch_size)

    def predict_proba(self, x, batch_size=1000):
        """(N, classes) float32: the mean of the members' probabilities."""
        from contest.modeldir.ensemble import average

        return average(self.member_proba(x, batch_size))

    def predict(self, x, batch_size=1000):
        """(N,) int64 predicted class of every image."""
        return self.predict_proba(x, batch_size).argmax(axis=1).astype(np.int64)

    def member_proba_checked(self, pixels, batch_size=1000, threads=None):
        """Like `member_proba` for pixels already checked by `prepare` (the service's path);
        `threads`: worker threads (default: one per available core)."""
        if pixels.ndim == 4 and pixels.shape[1] > 1:   # colour: contest's layout is (N, H, W, C)
            pixels = np.moveaxis(pixels, 1, 3)
        with self._lock:
            return self._loaded.member_probabilities(pixels, batch_size, threads)
