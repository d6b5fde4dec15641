"""Guarding a train-ensemble model directory (--out): one run at a time, nothing followed out of
it, no leftovers of killed runs.

`@guarded_training` wraps train_ensemble(settings, ...): before anything is written it checks
the settings (seed), refuses symbolic links and special files among the names the tool writes
in --out, takes an exclusive lock on OUT/.lock (filelock: the kernel drops the lock with its
holder, so a `kill -9` never leaves a stale lock behind), then removes what a killed run left:
scratch array directories (OUT/.contest-train-*), temporary files of interrupted atomic writes
(.NAME.XXXXXXXX.tmp), progress reports, and the joblib (loky) semaphores of the previous owner if
that process is gone.
"""
import functools
import os
import re
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

from contest.errors import ContestError, check_seed
from contest.modeldir.files import (LOCK_FILE, OWNER_FILE, PROGRESS_DIR, SCRATCH_PREFIX,
                                    TOOL_NAMES)

SEMAPHORE_DIR = Path("/dev/shm")
_ATOMIC_TEMP = re.compile(r"\..+\.[A-Za-z0-9_]{8}\.tmp")


def refuse_links(out_dir):
    """Refuse symlinks and special files wherever the tool reads or writes inside `out_dir`."""
    out_dir = Path(out_dir)
    for entry in _entries(out_dir) + _entries(out_dir / PROGRESS_DIR):
        mode = entry.lstat().st_mode
        owned = TOOL_NAMES.fullmatch(entry.name) or entry.parent.name == PROGRESS_DIR
        if owned and stat.S_ISLNK(mode):
            raise ContestError(f"{entry}: is a symbolic link; a model directory holds only "
                               "regular files and directories of its own (remove the link)")
        if owned and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise ContestError(f"{entry}: is a special file (FIFO, device or socket); remove it")
    progress = out_dir / PROGRESS_DIR
    if progress.exists() and not progress.is_dir():
        raise ContestError(f"{progress}: expected the progress directory, found a file")


def _entries(directory):
    try:
        if Path(directory).is_symlink():
            return []               # reported by the caller's check of its parent
        return list(Path(directory).iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def clean_leftovers(out_dir):
    """Remove what an interrupted run left in `out_dir` (call with the lock held)."""
    out_dir = Path(out_dir)
    for entry in _entries(out_dir):
        if entry.name.startswith(SCRATCH_PREFIX) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        elif _ATOMIC_TEMP.fullmatch(entry.name) and entry.is_file():
            entry.unlink(missing_ok=True)
    for entry in _entries(out_dir / PROGRESS_DIR):
        if entry.is_file():
            entry.unlink(missing_ok=True)
    _clean_semaphores(out_dir / OWNER_FILE)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_semaphores(owner_file):
    """Unlink loky's named semaphores (/dev/shm/sem.loky-PID-*) of a previous run that died."""
    try:
        pid = int(owner_file.read_text().strip())
    except (OSError, ValueError):
        return
    if pid == os.getpid() or _alive(pid):
        return
    for semaphore in SEMAPHORE_DIR.glob(f"sem.loky-{pid}-*"):
        semaphore.unlink(missing_ok=True)


@contextmanager
def locked(out_dir):
    """Hold the exclusive lock of `out_dir` (ContestError at once if another run holds it)."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(Path(out_dir) / LOCK_FILE), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise ContestError(f"{out_dir}: another train-ensemble is running on this directory "
                           f"(lock {LOCK_FILE} held); wait for it or use another --out") from None
    try:
        yield
    finally:
        lock.release()


def scratch_dir(out_dir):
    """A temporary directory for the shared training arrays, inside the model directory (a
    killed run's copy is removed by the next run instead of filling the system's temp dir)."""
    return tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=out_dir)


def guarded_training(train):
    """Decorator for train_ensemble(settings, ...): checks, lock and clean-up around the run."""
    @functools.wraps(train)
    def run(settings, *args, **kwargs):
        check_seed(settings.seed)
        out_dir = Path(settings.out_dir)
        refuse_links(out_dir)
        created = not out_dir.exists()
        make_directory(out_dir)
        try:
            with locked(out_dir):
                refuse_links(out_dir)
                clean_leftovers(out_dir)
                (out_dir / OWNER_FILE).write_text(f"{os.getpid()}\n")
                return train(settings, *args, **kwargs)
        except BaseException:
            if created:
                _remove_if_unused(out_dir)
            raise
    return run


def make_directory(out_dir):
    """Create --out (and parents), or say in one line why it cannot be."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ContestError(f"{out_dir}: --out exists and is not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ContestError(f"{out_dir}: cannot create the model directory "
                           f"({exc.strerror or exc})") from None


def _remove_if_unused(out_dir):
    """Remove a directory this run created if it holds nothing but the lock and owner files
    (a refused run leaves nothing behind)."""
    if {p.name for p in out_dir.iterdir()} <= {LOCK_FILE, OWNER_FILE, PROGRESS_DIR}:
        shutil.rmtree(out_dir, ignore_errors=True)


def check_finite_member(model, index):
    """Refuse to save member `index` if training diverged (NaN/inf weights)."""
    from contest.modeldir.manifest import non_finite

    found = non_finite(model.state_dict().items())
    if found is not None:
        raise ContestError(f"member {index}: training diverged ({found[1]} NaN or infinite "
                           f"values in {found[0]}); not saved. Lower the learning rate or "
                           "change the settings")


ORPHAN_EXIT = 75          # exit status of a worker that found its run gone


def orphan_guard(out_dir):
    """An nnlib callback that stops a worker process once the run that started it is gone.

    `kill -9` of train-ensemble leaves its joblib workers running: they would go on writing
    checkpoints and members into OUT after the lock is released, racing the next run. A worker
    (a process other than the one that holds the lock, named in OUT/.owner) notes its parent
    at the start and exits at the next batch once it has been re-parented.
    """
    import nnlib as nn

    class OrphanGuard(nn.Callback):
        def on_train_begin(self, state):
            try:
                owner = int((Path(out_dir) / OWNER_FILE).read_text().strip())
            except (OSError, ValueError):
                owner = None
            self.parent = os.getppid() if owner not in (None, os.getpid()) else None

        def on_batch_end(self, batch, logs):
            if self.parent is not None and os.getppid() != self.parent:
                # nobody will read a result or an exception: leave at once, between batches
                # (no write in progress), so the orphaned resource trackers exit too
                os._exit(ORPHAN_EXIT)

    return OrphanGuard()
