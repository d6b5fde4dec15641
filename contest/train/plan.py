"""The plan of a train-ensemble run, shared by the local (joblib) and the Dask paths.

`TrainSettings` is what the command was asked to do; `prepare_data` loads the training and
validation arrays and the run identity (settings and data checksums) that makes members of one
ensemble interchangeable; `start_run` refuses a model directory holding members of another run
and lists the members still to train; `plan_jobs` turns them into `MemberJob`s with their
nnlib thread counts, and chooses the number of worker processes.

Members are independent: member K draws everything random from SeedSequence(seed).spawn(n)[K],
and nnlib's results do not depend on its thread count, so members are the same whatever --jobs
or the scheduler is.
"""
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from nnlib.runtime.threads import available_cores

from contest.data import datasets
from contest.data.preprocess import DEFAULT_NORMALISATION, normalise, to_unit_nchw
from contest.data.sources import training_source
from contest.data.spec import MNIST
from contest.errors import ContestError
from contest.fileio import read_json, write_json
from contest.train.augment_limits import check_augment
from contest.train.continue_member import init_identity
from contest.modeldir.files import RUN_FILE, member_path
from contest.train.member import MemberJob
from contest.train.recipes import choose_recipe


@dataclass(frozen=True)
class TrainSettings:
    """Everything `contest train-ensemble` was asked to do."""
    preset: object                 # contest.train.presets.Preset with the command-line overrides
    n: int = 5
    seed: int = 0
    out_dir: str = "models"
    jobs: int = None               # None: default_workers (one per core, or a few more)
    backend: str = "loky"
    train_limit: int = None
    data_dir: str = None
    normalisation: str = DEFAULT_NORMALISATION
    scheduler: str = None          # Dask scheduler address or "local" (contest.train.cluster)
    data: str = None               # --data PATH (contest.data.formats), else data_dir
    test: str = None               # --test PATH: a labelled test set
    label_column: str = "label"    # label column of CSV data
    class_names: tuple = None      # --class-names, else the data's own
    init_from: str = None          # --init-from MODELS_DIR (contest.train.continue_member)
    freeze: str = None             # --freeze features
    adapt: bool = False            # choose the recipe for the data (contest.train.recipes)
    fixed: tuple = ()              # preset fields the command line set (kept by the choice)
    recipe: dict = None            # the record of the recipe chosen (once chosen)


@dataclass
class TrainingData:
    x_train: np.ndarray            # 0-1 float32 (N, C, H, W); normalised per batch in training
    y_train: np.ndarray
    x_val: np.ndarray              # normalised float32 (V, C, H, W)
    y_val: np.ndarray
    run: dict                      # settings that make members of one ensemble interchangeable
    source: object = None          # contest.data.sources.TrainingSource (spec, test set)
    preset: object = None          # the preset trained: settings.preset, adapted to the data
    recipe: dict = None            # the record of its choice (contest.train.recipes)


def with_overrides(preset, epochs=None, arch=None, augment=None, **options):
    """`preset` with the command-line values that were given (options: Preset fields set by
    contest.train.options)."""
    changes = {key: value for key, value in
               (("epochs", epochs), ("arch", arch), ("augment", augment), *options.items())
               if value is not None}
    return replace(preset, **changes)


def overridden(**values):
    """The names of the preset fields given on the command line (those not None), sorted."""
    return tuple(sorted(name for name, value in values.items() if value is not None))


def prepare_data(settings):
    """Training and validation arrays and the run identity for `settings`."""
    source = training_source(settings.data, settings.data_dir, settings.test,
                             settings.label_column, settings.class_names)
    images, labels, spec = source.train.images, source.train.labels, source.spec
    limit = settings.train_limit
    n_images = min(limit, len(images)) if limit else len(images)
    val_size = datasets.validation_size_for(n_images, settings.preset.validation_size)
    (xt, yt), (xv, yv) = datasets.train_validation_split(images, labels, val_size, n_images)
    preset, recipe = settings.preset, settings.recipe
    if settings.adapt:
        preset, recipe = choose_recipe(settings.preset, spec, settings.fixed)
    check_augment_for(preset, spec)
    run = {"seed": settings.seed, "preset": preset.to_dict(),
           "normalisation": settings.normalisation, "train_limit": limit,
           "train_size": len(xt), "validation_size": val_size,
           "data": source.identity()}
    if spec != MNIST:  # MNIST runs keep the identity they had before specs existed
        run["input"] = spec.to_dict()
    if recipe is not None and recipe["data"] != "digits":  # digit runs keep their identity too
        run["recipe"] = recipe
    if settings.init_from:
        run["init_from"], run["freeze"] = init_identity(settings.init_from, spec), settings.freeze
    return TrainingData(to_unit_nchw(xt, spec), yt, normalise(xv, settings.normalisation, spec),
                        yv, run, source, preset, recipe)


def check_augment_for(preset, spec):
    """Refuse the preset's augmentation if it is out of range for images of `spec` (the shift's
    bound depends on their size, which the command line does not know)."""
    try:
        check_augment(preset.augment, spec)
    except ValueError as exc:
        raise ContestError(f"--augment: {exc}") from None


def start_run(settings):
    """(data, indices of the members to train) of a run in settings.out_dir, created if need be;
    a directory holding members trained with other settings is refused."""
    out_dir = Path(settings.out_dir)
    data = prepare_data(settings)  # every data file checked before anything is written
    out_dir.mkdir(parents=True, exist_ok=True)
    check_run(out_dir, data.run)
    return data, pending_members(out_dir, settings.n)


def check_run(out_dir, run):
    """Refuse a directory whose members were trained with other settings; record ours."""
    path = Path(out_dir) / RUN_FILE
    run = json.loads(json.dumps(run))  # compare as stored: JSON turns tuples into lists
    if path.exists():
        previous = read_json(path)
        if previous != run:
            changed = run_differences(previous, run)
            raise ContestError(f"{out_dir}: holds members trained with other settings (differs "
                               f"in {', '.join(changed)}); use another --out or delete it")
        return
    write_json(path, run)


def run_differences(old, new, prefix=""):
    """Dotted names of the entries in which two run identities differ ("preset.epochs")."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [prefix.rstrip(".") or "run"]
    changed = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            changed += run_differences(old.get(key), new.get(key), f"{prefix}{key}.")
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
                      threads=t, run=run)
            for k, t in zip(todo, threads)]
    return jobs, workers
