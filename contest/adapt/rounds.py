"""The members of one self-training round trained in parallel on this machine (joblib), as
`contest train-ensemble` trains them: the arrays shared as read-only memory maps, workers and
nnlib threads chosen by contest.train.plan, one progress report per member. A member whose
file exists is skipped and an interrupted one resumes from its checkpoint."""
import tempfile
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from nnlib.runtime.threads import available_cores

from contest.adapt.selftrain import RoundJob, self_train_member
from contest.adapt.state import stage_dir
from contest.train.plan import default_workers, member_threads
from contest.train.progress import ProgressMonitor, clean_progress

TRAINED_FILE = "trained-{}.npz"


def round_jobs(ctx, number, sources):
    """RoundJobs of the members of round `number` whose trained file is missing, and workers."""
    settings, directory = ctx.settings, stage_dir(ctx.settings.out_dir, number)
    targets = [directory / TRAINED_FILE.format(k) for k in range(len(sources))]
    todo = [k for k, target in enumerate(targets) if not target.is_file()]
    cores = available_cores()
    count = len(todo) or 1
    workers = min(settings.jobs, count) if settings.jobs else default_workers(count, cores)
    threads = member_threads(len(todo), workers, len(sources), cores)
    jobs = [RoundJob(index=k, round=number, seed=settings.seed, preset=ctx.preset,
                     normalisation=ctx.manifest["normalisation"], source=str(sources[k]),
                     target=str(targets[k]), epochs=settings.epochs,
                     lr_scale=settings.lr_scale, threads=t)
            for k, t in zip(todo, threads)]
    return jobs, workers, targets


def train_round(ctx, number, sources, x, y):
    """Self-train every member of round `number` on (x, y); returns the trained files."""
    directory = stage_dir(ctx.settings.out_dir, number)
    directory.mkdir(parents=True, exist_ok=True)
    jobs, workers, targets = round_jobs(ctx, number, sources)
    indices = [job.index for job in jobs]
    with ProgressMonitor(directory, indices, ctx.settings.epochs, ctx.monitor_mode):
        if jobs:
            with tempfile.TemporaryDirectory(prefix="contest-adapt-") as tmp:
                shared = [_memmap(Path(tmp) / f"{name}.npy", array)
                          for name, array in (("x", x), ("y", y))]
                Parallel(n_jobs=workers)(delayed(self_train_member)(job, *shared)
                                         for job in jobs)
    clean_progress(directory, indices)
    return targets


def _memmap(path, array):
    np.save(path, np.ascontiguousarray(array), allow_pickle=False)
    return np.load(path, mmap_mode="r")
