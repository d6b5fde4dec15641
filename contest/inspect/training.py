"""The ensemble's training images and their feature index, read from the cache when it can.

For IDX training data (MNIST's layout, the common case) the cache is keyed by the training files'
paths, sizes and modification times, and holds the images too (an uncompressed .npy, memory
mapped): a view with a cached index decodes no gzip and hashes no image (about 0.4 s of MNIST's
one-image view). Other formats are read, and keyed by their content (`features.index_key`).
"""
import hashlib
import json
from pathlib import Path

import numpy as np

from contest.cli.run import data_dir_for
from contest.data.datasets import FILES, find_file, resolve_data_dir
from contest.fileio import atomic_open
from contest.inspect.features import (INDEX_VERSION, PCA_DIMS, default_cache_dir, load_index,
                                      training_index)
from contest.inspect.sources import training_set


def training_files(data_dir, manifest):
    """The training IDX files (images, labels) of the ensemble, or None for other formats."""
    if (manifest.get("data") or {}).get("format", "idx") != "idx":
        return None
    directory = resolve_data_dir(data_dir_for(data_dir, manifest))
    return [find_file(directory, stem) for stem in FILES["train"]]


def files_key(ensemble, files):
    stats = [(str(Path(f).resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    identity = [INDEX_VERSION, PCA_DIMS, ensemble.normalisation,
                [m["sha256"] for m in ensemble.manifest["members"]], stats]
    return "files-" + hashlib.md5(json.dumps(identity).encode()).hexdigest()[:24]


def _cached(cache, key):
    images_path = cache / f"train-images-{key}.npy"
    if not images_path.is_file():
        return None
    try:
        images = np.load(images_path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    index = load_index(cache / f"train-index-{key}.npz", len(images))
    return None if index is None else (index, (images, index.labels))


def training_neighbours(ensemble, data_dir=None, cache_dir=None, progress=None):
    """(TrainingIndex, (images, labels)) of the ensemble's training set: from the cache, or read,
    computed (advancing `progress`, see features.training_index) and cached."""
    cache = Path(cache_dir or default_cache_dir())
    files = training_files(data_dir, ensemble.manifest)
    key = None if files is None else files_key(ensemble, files)
    found = None if key is None else _cached(cache, key)
    if found is not None:
        return found
    images, labels, _ = training_set(data_dir, ensemble.manifest, ensemble.spec)
    index, _ = training_index(ensemble, images, labels, cache, progress, key)
    if key is not None:
        try:
            with atomic_open(cache / f"train-images-{key}.npy", "wb") as handle:
                np.save(handle, np.ascontiguousarray(images), allow_pickle=False)
        except OSError:
            pass   # an unwritable cache: the next view reads the training files again
    return index, (images, labels)
