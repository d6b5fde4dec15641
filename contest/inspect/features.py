"""The ensemble's penultimate feature space, and the training images' place in it.

A member's penultimate features are the input of its last layer (the head's hidden units after
ReLU and, in eval mode, the identity Dropout), taken by nnlib's fused eval pass
(`nnlib.introspect.split_forward`) together with the logits. The ensemble's feature of an image
is the members' features, each scaled to unit length, side by side and divided by sqrt(M): the
squared distance of two images is then the mean over members of their squared distances on the
unit sphere, so every member counts the same.

The training images' features (60,000 x 5 x 128 for MNIST's default ensemble) are projected on
their first PCA_DIMS principal components (NumPy's `eigh` of the covariance) and kept, with the
ensemble's probability of each image's given label, in one .npz per ensemble and training set
under the cache directory (`--cache-dir`, $CONTEST_CACHE_DIR, else ~/.cache/contest): the first
view of an ensemble computes it (about half a minute for MNIST on 2 cores, with a progress bar),
later ones load it in a fraction of a second. The cache file's name is a hash of the member files'
sha256, the normalisation, the labels and a sample of the training images, so a retrained
ensemble or other data never reads a stale index.
"""
import hashlib
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from nnlib.introspect import split_forward
from nnlib.ops.softmax import softmax

from contest.modeldir.ensemble import map_on_cores
from contest.fileio import atomic_open
from contest.inspect.analysis import model_input

PCA_DIMS = 128
BATCH = 500
INDEX_VERSION = 1
CACHE_VARIABLE = "CONTEST_CACHE_DIR"


def member_features(model, x):
    """(penultimate features (N, D) float32, probabilities (N, K) float32) of one model."""
    features, logits = split_forward(model, x, -2)
    return features.reshape(len(x), -1), softmax(logits)


def ensemble_features(ensemble, images, progress=None, batch=BATCH):
    """(features (N, sum of D) float32, member probabilities (M, N, K) float32) of images in
    contest's layout; members and batches shared over the cores; `progress`: a tqdm bar
    advanced by images x members."""
    models, n = ensemble.models, len(images)
    first = model_input(ensemble, images[:1])
    parts = [np.empty((n, member_features(m, first)[0].shape[1]), dtype=np.float32)
             for m in models]
    proba = np.empty((len(models), n, ensemble.spec.classes), dtype=np.float32)

    def run(task):
        m, start = task
        f, p = member_features(models[m], model_input(ensemble, images[start:start + batch]))
        parts[m][start:start + len(f)], proba[m, start:start + len(f)] = f, p
        if progress is not None:
            progress.update(len(f))
    map_on_cores(run, [(m, s) for m in range(len(models)) for s in range(0, n, batch)])
    return combine(parts), proba


def combine(parts):
    """The members' features (list of (N, D_m)), each row scaled to unit length, side by side,
    divided by sqrt(M)."""
    scaled = [p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12) for p in parts]
    return (np.concatenate(scaled, axis=1) / np.float32(np.sqrt(len(parts)))).astype(np.float32)


def fit_pca(features, dims):
    """(mean (D,), components (D, d), explained variance fraction (d,)) of features (N, D):
    the d leading eigenvectors of the covariance, each signed so its largest entry is positive."""
    mean = features.mean(axis=0, dtype=np.float64).astype(np.float32)
    centred = features - mean
    cov = (centred.T @ centred).astype(np.float64) / max(1, len(features))
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:min(dims, len(values))]
    components = vectors[:, order]
    signs = np.sign(components[np.abs(components).argmax(axis=0), np.arange(len(order))])
    components = (components * np.where(signs == 0, 1, signs)).astype(np.float32)
    explained = np.clip(values[order], 0, None) / max(float(np.clip(values, 0, None).sum()), 1e-30)
    return mean, components, explained.astype(np.float32)


@dataclass
class TrainingIndex:
    """The training images in the ensemble's feature space, and what the label check needs."""
    projected: np.ndarray       # (N, d) float32
    mean: np.ndarray            # (D,) float32
    components: np.ndarray      # (D, d) float32
    explained: np.ndarray       # (d,) float32
    labels: np.ndarray          # (N,) int64: the given labels
    label_proba: np.ndarray     # (N,) float32: the ensemble's probability of the given label
    predicted: np.ndarray       # (N,) int64: the ensemble's class
    confidence: np.ndarray      # (N,) float32: its probability
    member_predicted: np.ndarray   # (M, N) int16: every member's class

    def project(self, features):
        return (features - self.mean) @ self.components

    def nearest(self, features, k):
        """(indices (Q, k), distances (Q, k)) of the k training images nearest to each row of
        features (Q, D) (ensemble features), nearest first."""
        q = self.project(np.asarray(features, dtype=np.float32))
        squared = (np.sum(q * q, axis=1)[:, None] - 2 * q @ self.projected.T
                   + np.sum(self.projected ** 2, axis=1)[None, :])
        k = min(k, len(self.projected))
        part = np.argpartition(squared, k - 1, axis=1)[:, :k]
        rows = np.arange(len(q))[:, None]
        order = np.argsort(squared[rows, part], axis=1, kind="stable")
        best = part[rows, order]
        return best, np.sqrt(np.maximum(squared[rows, best], 0))


def build_index(ensemble, images, labels, progress=None):
    """TrainingIndex of the training images (contest layout) and labels (N,)."""
    features, member_proba = ensemble_features(ensemble, images, progress)
    mean, components, explained = fit_pca(features, PCA_DIMS)
    proba = member_proba.mean(axis=0, dtype=np.float64).astype(np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    return TrainingIndex((features - mean) @ components, mean, components, explained, labels,
                         proba[np.arange(len(labels)), labels], proba.argmax(axis=1),
                         proba.max(axis=1), member_proba.argmax(axis=2).astype(np.int16))


def default_cache_dir():
    """$CONTEST_CACHE_DIR, else $XDG_CACHE_HOME/contest, else ~/.cache/contest."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "contest"


def index_key(ensemble, images, labels):
    """Hash of what the index depends on: members, normalisation, the labels and every 16th
    image (hashing all of MNIST's 47 MB would cost a quarter of a second per view)."""
    digest = hashlib.md5(json.dumps([INDEX_VERSION, PCA_DIMS, ensemble.normalisation,
                                     [m["sha256"] for m in ensemble.manifest["members"]],
                                     list(images.shape), str(images.dtype)]).encode())
    digest.update(np.ascontiguousarray(images[::16]).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()[:24]


def load_index(path, n):
    """The TrainingIndex saved at `path` for n images, or None (missing, unreadable, other n)."""
    if not Path(path).is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            index = TrainingIndex(**{f.name: data[f.name] for f in fields(TrainingIndex)})
    except (OSError, ValueError, KeyError):
        return None
    return index if len(index.projected) == n and len(index.labels) == n else None


def training_index(ensemble, images, labels, cache_dir=None, progress=None, key=None):
    """(TrainingIndex, whether it came from the cache): loaded from the cache directory, else
    built (advancing `progress`, a callable making a tqdm bar of a total) and saved there, under
    `key` (default: index_key of the images and labels)."""
    key = key or index_key(ensemble, images, labels)
    path = Path(cache_dir or default_cache_dir()) / f"train-index-{key}.npz"
    index = load_index(path, len(images))
    if index is not None:
        return index, True
    bar = progress(len(images) * len(ensemble.models)) if progress else None
    try:
        index = build_index(ensemble, images, labels, bar)
    finally:
        if bar is not None:
            bar.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "wb") as handle:
            np.savez(handle, **{f.name: getattr(index, f.name) for f in fields(TrainingIndex)})
    except OSError:
        pass   # an unwritable cache only costs the next view the same half minute
    return index, False
