"""`train-ensemble --out DIR --more-epochs K`: every member of a finished ensemble trained K
epochs further from its saved state, with the settings and data recorded in DIR (see
contest.train.continue_member for how a member continues exactly)."""
import sys
import time
from dataclasses import replace
from pathlib import Path

import nnlib as nn

from contest.data.spec import spec_of_manifest
from contest.modeldir.ensemble import read_manifest
from contest.errors import ContestInputError
from contest.fileio import read_json
from contest.modeldir.files import RUN_FILE, member_path
from contest.train.finish import finish_ensemble
from contest.train.local import run_jobs
from contest.train.plan import TrainSettings, check_run, plan_jobs, prepare_data
from contest.train.presets import Preset
from contest.train.progress import ProgressMonitor, clean_progress


def settings_from_manifest(out_dir, manifest, jobs=None, backend="loky"):
    """The TrainSettings an ensemble was trained with, read back from its manifest and run.json."""
    data = manifest.get("data") or {}
    spec = spec_of_manifest(manifest)
    run = read_json(Path(out_dir) / RUN_FILE) if (Path(out_dir) / RUN_FILE).is_file() else {}
    idx = data.get("format", "idx") == "idx"
    # run.json keeps the preset the members were started with (their run identity); the
    # manifest's follows --more-epochs
    return TrainSettings(
        preset=Preset(**(run.get("preset") or manifest["preset"])), n=manifest["n"],
        seed=manifest["seed"],
        out_dir=str(out_dir), jobs=jobs, backend=backend, train_limit=data.get("train_limit"),
        normalisation=manifest["normalisation"], data_dir=data.get("dir") if idx else None,
        data=None if idx else data.get("path"), test=data.get("test"),
        label_column=data.get("label_column", "label"),
        class_names=spec.class_names if spec.named else None,
        init_from=(run.get("init_from") or {}).get("dir"), freeze=run.get("freeze"),
        recipe=manifest.get("recipe"))


def _member_epochs(path):
    """Epochs trained by a finished member, refusing one saved without what continuing needs."""
    try:
        _, meta = nn.load_with_metadata(path)
    except ValueError as exc:
        raise ContestInputError(path, f"cannot load member ({exc})") from None
    if "train_rng" not in meta or nn.load_optimizer_state(path) is None:
        raise ContestInputError(path, "saved without its optimizer state (trained before "
                                      "--more-epochs existed): it cannot be continued exactly")
    return len(meta["history"]["epoch"])


def continue_ensemble(out_dir, more_epochs, jobs=None, backend="loky", monitor_mode="lines",
                      stream=None):
    """Train every member of the finished ensemble in `out_dir` `more_epochs` epochs further."""
    started = time.time()
    manifest = read_manifest(out_dir)
    settings = settings_from_manifest(out_dir, manifest, jobs, backend)
    target = max(entry["epochs"] for entry in manifest["members"]) + more_epochs
    data = prepare_data(settings)
    check_run(out_dir, data.run)
    todo = [k for k in range(settings.n) if _member_epochs(member_path(out_dir, k)) < target]
    jobs_, workers = plan_jobs(settings, todo, data.run)
    jobs_ = [replace(job, continue_to=target) for job in jobs_]
    if monitor_mode != "quiet" and todo:
        print(data.source.header() + f"; continuing to {target} epochs", file=stream or sys.stderr,
              flush=True)
    with ProgressMonitor(out_dir, todo, target, monitor_mode, stream):
        run_jobs(jobs_, workers, settings.backend, data)
    data.x_train = None
    clean_progress(Path(out_dir), todo)
    recorded = replace(settings, preset=replace(settings.preset, epochs=target))
    return finish_ensemble(recorded, data, trained=todo, workers=workers,
                           wall_seconds=time.time() - started)
