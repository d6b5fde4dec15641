"""The members of an ensemble trained in parallel on this machine (joblib), resumably.

The training arrays are written once to a temporary .npy and handed to the workers as read-only
memory maps (no per-member copy). Each member trains on cores // min(n, cores) of nnlib's
threads with one BLAS thread, so workers x threads never exceed the cores (without --jobs a few
more workers than cores may share them, so that no core idles in a last round; see
`contest.train.plan.default_workers`). Rerunning after an interruption skips finished members
and resumes the others from their per-epoch checkpoints.
"""
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from contest.modeldir.guard import scratch_dir
from contest.train.member import train_member
from contest.train.plan import plan_jobs
from contest.train.progress import ProgressMonitor, clean_progress


def train_locally(settings, data, todo, monitor_mode="lines", stream=None):
    """Train members `todo` with joblib, showing their progress; returns the number of workers."""
    jobs, workers = plan_jobs(settings, todo, data.run)
    with ProgressMonitor(settings.out_dir, todo, settings.preset.epochs, monitor_mode, stream):
        run_jobs(jobs, workers, settings.backend, data)
    clean_progress(settings.out_dir, todo)
    return workers


def run_jobs(jobs, workers, backend, data):
    """Train `jobs` with joblib, sharing the arrays with the workers as memory maps."""
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
