"""`contest train-ensemble --scheduler ADDRESS|local`: the members as tasks on a Dask cluster.

Workers may not share a filesystem with the client, so a task receives only small arguments (the
MemberJob and the TrainSettings), loads the training data itself (the bundled MNIST, verified by
checksum, or --data-dir at the same path on the worker), checks that its run identity (settings
and data md5s) equals the client's, trains in a temporary directory of its own (checkpoints
included) and returns the member file's bytes with its metadata. The client writes each member as
its task finishes (one progress line per member), then verifies and scores the members and writes
curves and manifest exactly as the local path does (contest.train.run).

Results are bit-identical to the loky path: the same data preparation and member seeds, and
nnlib's results do not depend on its thread count (MemberJob.threads, set by train_member).
"""
import asyncio
import logging
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import replace

from nnlib.runtime.threads import available_cores

from contest.errors import ContestError
from contest.fileio import atomic_open
from contest.modeldir.files import checkpoint_path, member_path
from contest.train.member import train_member
from contest.train.plan import plan_jobs, prepare_data, run_differences
from contest.train.recipes import describe_recipe
from contest.train.progress import finished_line

INSTALL_HINT = 'pip install "contest-cnn[dask]" (or pip install ".[dask]" in a checkout)'
RETRIES = 2               # further attempts of a member whose task raised
CONNECT_TIMEOUT = "10s"   # reaching the scheduler
WORKER_TIMEOUT = 60       # seconds to wait for the first worker


def require_dask():
    """The `distributed` module, or a one-line ContestError saying what to install.

    Imported here, not at the top: Dask is an optional dependency (the "dask" extra), and
    importing it takes about a second.
    """
    try:
        import distributed
    except ImportError:
        raise ContestError(f"--scheduler needs Dask, which is not installed: {INSTALL_HINT}") \
            from None
    return distributed


@contextmanager
def connect(distributed, scheduler):
    """A Client of the scheduler at `scheduler`, or of a LocalCluster on this machine ("local")."""
    if scheduler == "local":
        # one single-threaded worker process per core (NumPy's element-wise work uses one core);
        # ":0": any free port for the scheduler's HTTP server, so a running cluster is no conflict
        with distributed.LocalCluster(n_workers=available_cores(), threads_per_worker=1,
                                      processes=True, dashboard_address=":0",
                                      silence_logs=logging.ERROR) as cluster, \
                distributed.Client(cluster) as client:
            yield client
        return
    try:
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, ValueError, TypeError) as exc:  # TimeoutError is an OSError
        raise ContestError(f"cannot reach the Dask scheduler at {scheduler}: "
                           f"{_one_line(exc)}") from None
    with client:
        yield client


def wait_for_workers(client, scheduler):
    """Wait for at least one worker; return the number of worker threads (tasks at once)."""
    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except (TimeoutError, asyncio.TimeoutError):
        raise ContestError(f"no Dask worker joined the scheduler at {scheduler} within "
                           f"{WORKER_TIMEOUT} s; start one with: dask worker {scheduler} "
                           f"--nthreads 1") from None
    return sum(client.nthreads().values())


def train_remote(job, settings):
    """Dask task: train member `job.index` from scratch on this worker.

    Returns {"index", "npz" (the member file's bytes), "meta", "worker"}.
    """
    try:
        data = prepare_data(settings)
        _check_same_run(job.run, data.run)
    except ContestError as exc:
        # plain ContestError: subclasses with other __init__ arguments would not unpickle
        raise ContestError(f"worker {_worker_address()}: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="contest-member-") as tmp:
        meta = train_member(replace(job, out_dir=tmp), data.x_train, data.y_train,
                            data.x_val, data.y_val)
        payload = member_path(tmp, job.index).read_bytes()
    return {"index": job.index, "npz": payload, "meta": meta, "worker": _worker_address()}


def _check_same_run(client_run, worker_run):
    if worker_run != client_run:
        changed = run_differences(client_run, worker_run)
        raise ContestError(f"its training data or settings differ from the client's (in "
                           f"{', '.join(changed)}); install the same contest version and data "
                           f"on every worker")


def _worker_address():
    from distributed import get_worker  # runs on a Dask worker, where distributed is installed

    try:
        return get_worker().address
    except ValueError:  # not running inside a worker (called directly)
        return "this process"


def submit_members(client, jobs, settings):
    """{future: member index} of one task per job.

    Not joblib's dask backend (parallel_config(backend="dask")): it wraps every call so that an
    exception comes back to the client as an ordinary result (joblib._utils.
    _TracebackCapturingWrapper), so Dask's `retries=` never fires, and Parallel stops at the first
    failed member. client.submit retries a member whose task raised and lets the others finish.
    A lost worker is handled by the scheduler either way: its tasks are rescheduled on other
    workers (up to the distributed.scheduler.allowed-failures setting, then KilledWorker).
    """
    futures = {}
    for job in jobs:
        future = client.submit(train_remote, job, settings,
                               key=f"contest-member-{job.index}-{uuid.uuid4().hex[:8]}",
                               pure=False, retries=RETRIES)
        futures[future] = job.index
    return futures


def collect(distributed, futures, out_dir, say):
    """Write each member as its task finishes; return {index: error} of the members that failed."""
    failed, done = {}, 0
    for future in distributed.as_completed(futures):
        index = futures[future]
        try:
            result = future.result()
        except (Exception, asyncio.CancelledError) as exc:  # the member's own error or KilledWorker
            failed[index] = _one_line(exc)
            continue
        save_member(out_dir, result)
        done += 1
        say(finished_line(result["meta"], result["worker"], done, len(futures)))
    return failed


def save_member(out_dir, result):
    """Write a member file received from a worker (atomically), as train_member would have."""
    index = result["index"]
    with atomic_open(member_path(out_dir, index), "wb") as handle:
        handle.write(result["npz"])
    checkpoint_path(out_dir, index).unlink(missing_ok=True)  # left by an interrupted local run


def _one_line(exc):
    text = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]
    if isinstance(exc, ModuleNotFoundError) or "No module named" in text:
        text += f" (install contest on every worker: {INSTALL_HINT})"
    return text


def failure_error(failed, finished, out_dir):
    listed = "; ".join(f"member {index}: {error}" for index, error in sorted(failed.items()))
    return ContestError(f"{len(failed)} member(s) failed on the Dask cluster ({listed}); the "
                        f"{finished} finished member(s) are kept in {out_dir}: rerun the same "
                        f"command to train the others")


def run_on_cluster(distributed, settings, jobs, say):
    """Train `jobs` on the cluster of settings.scheduler; return its number of worker threads."""
    with connect(distributed, settings.scheduler) as client:
        workers = wait_for_workers(client, settings.scheduler)
        say(f"training {len(jobs)} member(s) on the Dask cluster at "
            f"{client.scheduler.address} ({workers} worker threads)")
        if settings.recipe is not None:
            say(describe_recipe(settings.recipe, settings.preset))
        futures = submit_members(client, jobs, settings)
        failed = collect(distributed, futures, settings.out_dir, say)
    if failed:
        raise failure_error(failed, len(jobs) - len(failed), settings.out_dir)
    return workers


def train_on_cluster(distributed, settings, run, todo, say):
    """Train members `todo` of the run identified by `run` as tasks on the cluster of
    settings.scheduler, one single-threaded task each; returns the number of worker threads."""
    jobs, _ = plan_jobs(settings, todo, run)
    if not jobs:
        return 1
    jobs = [replace(job, threads=1) for job in jobs]   # one task per single-threaded worker
    return run_on_cluster(distributed, settings, jobs, say)
