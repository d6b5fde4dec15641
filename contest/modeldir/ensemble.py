"""A trained ensemble on disk, loaded strictly, and the average of its members' softmax outputs.

The files of a model directory are listed in contest.modeldir.files. A member file that is
missing, modified since training (sha256 mismatch), unreadable or incompatible (architecture or
input shape) makes loading fail with one line naming the file.
"""
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from nnlib.runtime.threads import available_cores

from contest.blas_threads import one_blas_thread
from contest.errors import ContestInputError
from contest.fileio import sha256_file, write_json
from contest.data.preprocess import normalise
from contest.data.spec import spec_of_manifest
from contest.modeldir.files import MANIFEST
from contest.modeldir.manifest import check_fields, check_finite_model, check_member, load_json

FORMAT = "contest-ensemble-1"
_REQUIRED = ("format", "arch", "normalisation", "members")
CHUNK = 10000  # images normalised at a time, bounding memory for large prediction sets


def write_manifest(directory, manifest):
    write_json(Path(directory) / MANIFEST, manifest)


def read_manifest(directory):
    """The manifest of `directory`, checked for the keys prediction relies on."""
    directory = Path(directory)
    if not directory.exists():
        raise ContestInputError(directory, "model directory not found "
                                           "(train one with `contest train-ensemble`)")
    if not directory.is_dir():
        raise ContestInputError(directory, "model directory is not a directory")
    path = directory / MANIFEST
    if not path.is_file():
        raise ContestInputError(path, "missing: not a trained ensemble directory")
    if path.is_symlink():
        raise ContestInputError(path, "is a symbolic link; a model directory holds regular files")
    manifest = load_json(path)
    _check_manifest(manifest, path)
    spec_of_manifest(manifest, path)  # a malformed "input" entry is refused here
    check_fields(manifest, path)
    return manifest


def _check_manifest(manifest, path):
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ContestInputError(path, f"not a {FORMAT} manifest")
    missing = [key for key in _REQUIRED if key not in manifest]
    if missing:
        raise ContestInputError(path, f"manifest lacks {', '.join(missing)}")
    members = manifest["members"]
    if not isinstance(members, list) or not members:
        raise ContestInputError(path, "manifest lists no members")
    for entry in members:
        if not isinstance(entry, dict) or not {"file", "sha256"} <= set(entry):
            raise ContestInputError(path, "member entry without 'file' and 'sha256'")


def load_member(directory, entry, arch, spec, manifest=None):
    """The nnlib model of one manifest entry, verified: present, untampered, compatible, finite
    and (given the manifest) matching it."""
    import nnlib as nn

    path = Path(directory) / entry["file"]
    if Path(entry["file"]).name != entry["file"]:
        raise ContestInputError(path, "member file must lie inside the model directory")
    if path.is_symlink():
        raise ContestInputError(path, "member file is a symbolic link; a model directory holds "
                                      "its members as regular files")
    if not path.is_file():
        raise ContestInputError(path, "member listed in ensemble.json is missing")
    if sha256_file(path) != entry["sha256"]:
        raise ContestInputError(path, "sha256 mismatch: member file changed since training "
                                      "(tampered or corrupt)")
    try:
        model, meta = nn.load_with_metadata(path)
    except ValueError as exc:
        raise ContestInputError(path, f"cannot load member ({_strip(exc, path)})") from None
    check_finite_model(model, path)
    _check_compatible(model, meta, _expected_arch(arch, entry, path), path, spec)
    if manifest is not None:
        check_member(manifest, entry, meta, path)
    return model


def _expected_arch(spec, entry, path):
    """The architecture manifest arch `spec` gives the member of `entry` ("d+c": in turn)."""
    if "+" not in spec:
        return spec
    from contest.train.architectures import member_arch

    index = entry.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ContestInputError(path, f"member entry without an index in a mixed ensemble "
                                      f"({spec!r})")
    try:
        return member_arch(spec, index)
    except ValueError as exc:
        raise ContestInputError(path, str(exc)) from None


def _strip(exc, path):
    return str(exc).replace(f"{path}: ", "")


def _check_compatible(model, meta, arch, path, spec):
    if meta.get("arch") != arch:
        raise ContestInputError(path, f"incompatible member: architecture {meta.get('arch')!r}, "
                                      f"the ensemble's is {arch!r}")
    try:
        out = model.forward(np.zeros((1,) + spec.model_shape, dtype=np.float32), training=False)
    except Exception as exc:  # any failure here means the network cannot take our input
        raise ContestInputError(path, f"incompatible member: cannot take "
                                      f"{(1,) + spec.model_shape} images "
                                      f"({type(exc).__name__}: {exc})") from None
    if out.shape != (1, spec.classes):
        raise ContestInputError(path, f"incompatible member: outputs shape {out.shape[1:]}, "
                                      f"expected ({spec.classes},)")


@dataclass
class LoadedEnsemble:
    """Members of one model directory; predict_proba averages their softmax outputs. The
    internal form of the public `contest.Ensemble` (contest.api), which wraps it."""
    directory: Path
    manifest: dict
    models: list

    @property
    def normalisation(self):
        return self.manifest["normalisation"]

    @cached_property
    def spec(self):
        """The InputSpec the members take (contest.data.spec); read from the manifest once (the
        service asks for it at every request)."""
        return spec_of_manifest(self.manifest)

    def __len__(self):
        return len(self.models)

    def member_probabilities(self, images, batch_size=1000, threads=None):
        """(M, N, classes) float32 softmax outputs of every member for images of its spec;
        `threads`: worker threads (default: one per available core)."""
        spec = self.spec
        out = np.empty((len(self.models), len(images), spec.classes), dtype=np.float32)
        for start in range(0, len(images), CHUNK):
            x = normalise(images[start:start + CHUNK], self.normalisation, spec)
            out[:, start:start + len(x)] = models_probabilities(self.models, x, spec.classes,
                                                                batch_size, threads)
        return out

    def predict_proba(self, images, batch_size=1000):
        """(mean (N, classes) float32, members (M, N, classes)): the average and its parts."""
        members = self.member_probabilities(images, batch_size)
        return average(members), members


def models_probabilities(models, x, classes, batch_size=1000, threads=None):
    """(M, N, classes) float32 softmax outputs of `models` for model-ready input x (N, C, H, W).

    Work is split into member x batch tasks (`map_on_cores`): small tasks keep every core busy
    to the end (5 arch-a members on 10,000 images: 5.9 s -> 4.7 s for the whole `contest
    predict`).
    """
    out = np.empty((len(models), len(x), classes), dtype=np.float32)
    tasks = [(m, b) for m in range(len(models)) for b in range(0, len(x), batch_size)]

    def run(task):
        m, b = task
        out[m, b:b + batch_size] = models[m].predict_proba(x[b:b + batch_size], batch_size)
    map_on_cores(run, tasks, threads)
    return out


def map_on_cores(fn, items, threads=None, pool=None):
    """[fn(item) for item in items], by one thread per core (or `threads`), each task on its own
    thread only (nnlib's `inline`, not on nnlib's threads too) with one BLAS thread: NumPy
    releases the GIL in its loops and BLAS calls, and its element-wise work is single-threaded
    anyway. The one place where contest spreads members' work over the cores.

    `pool`: a long-lived ThreadPoolExecutor to run on (a server's, so that no request pays for
    starting threads); by default one is started for the call."""
    from concurrent.futures import ThreadPoolExecutor

    from nnlib.runtime.threads import inline

    def run(item):
        with inline():
            return fn(item)
    with one_blas_thread():
        if pool is not None:
            return list(pool.map(run, items))
        workers = max(1, min(len(items), threads or available_cores()))
        if workers == 1:   # on the calling thread: no thread to start or hand work to
            return [run(item) for item in items]
        with ThreadPoolExecutor(workers) as own:
            return list(own.map(run, items))


def average(member_probabilities):
    """Mean over members, accumulated in float64 so the result is order-exact, as float32."""
    return np.mean(member_probabilities, axis=0, dtype=np.float64).astype(np.float32)


def load_ensemble(directory, manifest=None):
    """Load and verify every member listed in `directory`/ensemble.json (`manifest`: that file,
    when the caller has read it already)."""
    directory = Path(directory)
    manifest = read_manifest(directory) if manifest is None else manifest
    spec = spec_of_manifest(manifest, directory / MANIFEST)
    with one_blas_thread():   # the members' checks run one image each
        models = [load_member(directory, entry, manifest["arch"], spec, manifest)
                  for entry in manifest["members"]]
    return LoadedEnsemble(directory, manifest, models)


def accuracy(predicted, labels):
    """(fraction correct, number correct) of predicted labels (or probabilities) vs labels."""
    predicted = np.asarray(predicted)
    if predicted.ndim == 2:
        predicted = predicted.argmax(axis=1)
    correct = int(np.count_nonzero(predicted == np.asarray(labels)))
    return correct / len(labels), correct


def confusion_matrix(labels, predicted, num_classes):
    """(num_classes, num_classes) counts; rows are true labels, columns predictions."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predicted)), 1)
    return matrix
