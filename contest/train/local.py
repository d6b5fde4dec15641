"""`train_ensemble`: train the members of an ensemble in parallel (joblib), resumably.

Members are independent: member K draws everything random from SeedSequence(seed).spawn(n)[K].
The training arrays are written once to a temporary .npy and handed to the workers as read-only
memory maps (no per-member copy). Each member trains on cores // min(n, cores) of nnlib's
threads with one BLAS thread, so workers x threads never exceed the cores (without --jobs a few
more workers than cores may share them, so that no core idles in a last round; see
`default_workers`); nnlib's results do not depend on its thread count, so members are the same
whatever --jobs is.
Rerunning after an interruption skips finished members and resumes the others from their
per-epoch checkpoints; a directory holding members trained with other settings is refused
rather than mixed.
"""
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from contest.data import datasets
from contest.ensemble import available_cores
from contest.errors import ContestError
from contest.fileio import read_json, write_json
from contest.modeldir import guarded_training, scratch_dir
from contest.data.preprocess import DEFAULT_NORMALISATION, normalise, to_unit_nchw
from contest.train.member import (MemberJob, interrupt_for, member_path, progress_path,
                              train_member)

RUN_FILE = "run.json"


@dataclass(frozen=True)
class TrainSettings:
    """Everything `contest train-ensemble` was asked to do."""
    preset: object                 # contest.train.presets.Preset with the command-line overrides applied
    n: int = 5
    seed: int = 0
    out_dir: str = "models"
    jobs: int = None               # None: default_workers (one per core, or a few more)
    backend: str = "loky"
    train_limit: int = None
    data_dir: str = None
    normalisation: str = DEFAULT_NORMALISATION
    scheduler: str = None          # Dask scheduler address or "local" (contest.train.cluster)


@dataclass
class TrainingData:
    x_train: np.ndarray            # 0-1 float32 (N, 1, 28, 28); normalised per batch in training
    y_train: np.ndarray
    x_val: np.ndarray              # normalised float32 (V, 1, 28, 28)
    y_val: np.ndarray
    run: dict                      # settings that make members of one ensemble interchangeable


def prepare_data(settings):
    """Training and validation arrays and the run identity for `settings`."""
    images, labels = datasets.load_split("train", settings.data_dir)
    limit = settings.train_limit
    n_images = min(limit, len(images)) if limit else len(images)
    val_size = datasets.validation_size_for(n_images, settings.preset.validation_size)
    (xt, yt), (xv, yv) = datasets.train_validation_split(images, labels, val_size, n_images)
    run = {"seed": settings.seed, "preset": settings.preset.to_dict(),
           "normalisation": settings.normalisation, "train_limit": limit,
           "train_size": len(xt), "validation_size": val_size,
           "data": datasets.fingerprint("train", settings.data_dir)}
    return TrainingData(to_unit_nchw(xt), yt, normalise(xv, settings.normalisation), yv, run)


def check_run(out_dir, run):
    """Refuse a directory whose members were trained with other settings; record ours."""
    path = Path(out_dir) / RUN_FILE
    run = json.loads(json.dumps(run))  # compare as stored: JSON turns tuples into lists
    if path.exists():
        previous = read_json(path)
        if previous != run:
            changed = _differences(previous, run)
            raise ContestError(f"{out_dir}: holds members trained with other settings (differs "
                               f"in {', '.join(changed)}); use another --out or delete it")
        return
    write_json(path, run)


def _differences(old, new, prefix=""):
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [prefix.rstrip(".") or "run"]
    keys = sorted(set(old) | set(new))
    changed = []
    for key in keys:
        if old.get(key) != new.get(key):
            changed += _differences(old.get(key), new.get(key), f"{prefix}{key}.")
    return changed


def pending_members(out_dir, n):
    """Indices of members without a finished model file (checked later, when loading)."""
    return [k for k in range(n) if not member_path(out_dir, k).is_file()]


def threads_per_member(n, cores):
    """nnlib threads of every member (BLAS stays at one): with at most min(n, cores) workers,
    workers x threads never exceeds the cores."""
    return max(1, cores // max(1, min(n, cores)))


def member_threads(count, workers, n, cores):
    """nnlib threads for each of `count` pending members run by `workers` processes.

    Members of the last, partly filled round (5 members on 2 workers: the fifth) run alone
    or nearly so, so they get the idle cores too. nnlib's results do not depend on its thread
    count, so this changes only the wall time.
    """
    base = threads_per_member(n, cores)
    tail = count % workers if workers > 1 else 0
    return [max(base, cores // tail) if tail and i >= count - tail else base
            for i in range(count)]


def default_workers(count, cores):
    """Worker processes for `count` members when --jobs is not given.

    One per core, unless that leaves a last round with fewer members than cores (5 members on
    2 cores: the fifth would train alone, and one member on two threads runs about 1.3x, not 2x,
    faster). Then the fewest workers up to twice the cores whose last round fills every core
    (5 on 2 cores: 3 workers, three members sharing the cores, then two): all cores stay busy
    to the end, and every member keeps one thread.
    """
    if count <= cores:
        return count
    for workers in range(cores, min(count, 2 * cores) + 1):
        tail = count % workers
        if tail == 0 or tail >= cores:
            return workers
    return cores


def plan_jobs(settings, todo, run):
    """One MemberJob per pending member, and the number of worker processes to use."""
    cores = available_cores()
    count = len(todo) or 1
    workers = min(settings.jobs, count) if settings.jobs else default_workers(count, cores)
    threads = member_threads(len(todo), workers, settings.n, cores)
    jobs = [MemberJob(index=k, seed=settings.seed, preset=settings.preset,
                      normalisation=settings.normalisation, out_dir=str(settings.out_dir),
                      threads=t, run=run, interrupt=interrupt_for(k))
            for k, t in zip(todo, threads)]
    return jobs, workers


def run_jobs(jobs, workers, backend, data):
    """Train `jobs` with joblib, sharing the arrays with the workers as memory maps."""
    from joblib import Parallel, delayed

    if not jobs:
        return []
    with scratch_dir(jobs[0].out_dir) as tmp:
        shared = [_memmap(Path(tmp) / f"{name}.npy", array) for name, array in
                  (("x_train", data.x_train), ("y_train", data.y_train),
                   ("x_val", data.x_val), ("y_val", data.y_val))]
        parallel = Parallel(n_jobs=workers, backend=backend)
        return parallel(delayed(train_member)(job, *shared) for job in jobs)


def _memmap(path, array):
    np.save(path, np.ascontiguousarray(array), allow_pickle=False)
    return np.load(path, mmap_mode="r")


@guarded_training
def train_ensemble(settings, monitor_mode="lines", stream=None):
    """Train (or finish) the ensemble of `settings`; returns (manifest, summary rows)."""
    if settings.scheduler:
        from contest.train.cluster import train_on_cluster

        return train_on_cluster(settings, monitor_mode, stream)
    from contest.train.progress import ProgressMonitor
    from contest.train.finish import finish_ensemble

    started = time.time()
    out_dir = Path(settings.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = prepare_data(settings)
    check_run(out_dir, data.run)
    todo = pending_members(out_dir, settings.n)
    jobs, workers = plan_jobs(settings, todo, data.run)
    with ProgressMonitor(out_dir, todo, settings.preset.epochs, monitor_mode, stream):
        run_jobs(jobs, workers, settings.backend, data)
    data.x_train = None  # the largest array (~170 MB for MNIST) is not needed any more
    _clean_progress(out_dir, todo)
    return finish_ensemble(settings, data, trained=todo, workers=workers,
                           wall_seconds=time.time() - started)


def _clean_progress(out_dir, indices):
    for k in indices:
        progress_path(out_dir, k).unlink(missing_ok=True)
    try:
        progress_path(out_dir, 0).parent.rmdir()
    except OSError:
        pass  # not empty (another run's reports) or already gone


def with_overrides(preset, epochs=None, arch=None, augment=None):
    """`preset` with the command-line values that were given."""
    changes = {key: value for key, value in
               (("epochs", epochs), ("arch", arch), ("augment", augment)) if value is not None}
    return replace(preset, **changes)
