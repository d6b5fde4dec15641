"""Training that starts from trained weights: more epochs for a finished ensemble, and fine-tuning.

`train-ensemble --out DIR --more-epochs K` trains every member of DIR on for K epochs from its
saved weights, BatchNorm statistics, optimizer state (step count, moments) and data-order random
state, with the settings and data recorded in DIR: the continued member is the one an uninterrupted
run of the total epochs would give at a constant learning rate. The continued epochs run at the
preset's learning rate for presets without a schedule, and at a tenth of it after a schedule (which
has decayed the rate by its end). Rerunning the same command after an interruption finishes the
members that have not reached the target yet.

`--init-from MODELS_DIR` starts member K from member K (mod their count) of another ensemble of
the same image channels and size: every weight and BatchNorm statistic of matching shape is copied
(the last layer is new when the classes differ). `--freeze features` keeps the parameters of the
layers before the head (convolutions and their BatchNorm scales) fixed; their running statistics
still follow the new data.
"""
import time
from dataclasses import replace
from pathlib import Path

from contest.errors import ContestError, ContestInputError
from contest.train.member import member_path

FREEZE_CHOICES = ("features",)


def continuation_lr(preset):
    return preset.lr if preset.schedule == "none" else preset.lr / 10


def prepare_start(job, model, optimizer, scheduler, checkpoint):
    """(epochs to train to, scheduler) for a member that continues or starts from other weights;
    called by the member's worker before nnlib.fit, which then resumes from `checkpoint`."""
    import nnlib as nn

    if job.continue_to is not None:
        if not checkpoint.exists():
            _start_checkpoint(member_path(job.out_dir, job.index), model, optimizer,
                              continuation_lr(job.preset), checkpoint)
        if job.run.get("freeze") == "features":
            freeze_features(model)
        return job.continue_to, None
    init = job.run["init_from"]
    if not checkpoint.exists():
        source = nn.load(Path(init["dir"]) / init["members"][job.index % len(init["members"])])
        copy_matching_weights(source, model)
    if job.run.get("freeze") == "features":
        freeze_features(model)
    return job.preset.epochs, scheduler


def _start_checkpoint(source, model, optimizer, lr, checkpoint):
    """An nnlib.fit checkpoint holding the finished member `source` as it ended."""
    import nnlib as nn

    meta = nn.load_weights(model, source)
    optimizer.load_state_dict(nn.load_optimizer_state(source))
    optimizer.lr = lr
    history = meta["history"]
    nn.save(model, checkpoint, optimizer=optimizer,
            metadata={"epoch": len(history["epoch"]), "history": history,
                      "rng": meta["train_rng"], "scheduler": None})


def copy_matching_weights(source, model):
    """Copy every parameter and buffer of `source` whose name and shape `model` shares."""
    own = model.state_dict()
    for name, value in source.state_dict().items():
        if name in own and own[name].shape == value.shape:
            own[name][...] = value


def freeze_features(model):
    """Freeze the parameters of every layer before the first Flatten (the feature extractor)."""
    for layer in model.layers:
        if type(layer).__name__ == "Flatten":
            return
        for param in layer.params.values():
            param.frozen = True


# ---- fine-tuning: checked in the parent before any training ------------------------------------

def finetune_settings(settings):
    """`settings` with the architecture and normalisation of the --init-from ensemble."""
    from contest.ensemble import read_manifest

    if settings.init_from is None:
        if settings.freeze:
            raise ContestError("--freeze needs --init-from (the weights to keep fixed)")
        return settings
    manifest = read_manifest(settings.init_from)
    preset = replace(settings.preset, arch=manifest["arch"])
    return replace(settings, preset=preset, normalisation=manifest["normalisation"])


def init_identity(init_from, spec):
    """The run identity's record of the --init-from ensemble, refused if its images differ."""
    from contest.ensemble import MANIFEST, load_ensemble

    ensemble = load_ensemble(init_from)          # every member verified (sha256, shapes)
    theirs = ensemble.spec
    if theirs.model_shape != spec.model_shape:
        raise ContestInputError(Path(init_from) / MANIFEST,
                                f"--init-from ensemble takes {theirs.shape_text()} images, the "
                                f"training data has {spec.shape_text()} images")
    entries = ensemble.manifest["members"]
    return {"dir": str(Path(init_from).resolve()), "members": [e["file"] for e in entries],
            "sha256": [e["sha256"] for e in entries]}


# ---- --more-epochs ------------------------------------------------------------------------------

def settings_from_manifest(out_dir, manifest, jobs=None, backend="loky"):
    """The TrainSettings an ensemble was trained with, read back from its manifest and run.json."""
    from contest.data.spec import spec_of_manifest
    from contest.fileio import read_json
    from contest.train.local import RUN_FILE, TrainSettings
    from contest.train.presets import Preset

    data = manifest.get("data") or {}
    spec = spec_of_manifest(manifest)
    run = read_json(Path(out_dir) / RUN_FILE) if (Path(out_dir) / RUN_FILE).is_file() else {}
    idx = data.get("format", "idx") == "idx"
    return TrainSettings(
        preset=Preset(**manifest["preset"]), n=manifest["n"], seed=manifest["seed"],
        out_dir=str(out_dir), jobs=jobs, backend=backend, train_limit=data.get("train_limit"),
        normalisation=manifest["normalisation"], data_dir=data.get("dir") if idx else None,
        data=None if idx else data.get("path"), test=data.get("test"),
        label_column=data.get("label_column", "label"),
        class_names=spec.class_names if spec.named else None,
        init_from=(run.get("init_from") or {}).get("dir"), freeze=run.get("freeze"))


def _member_epochs(path):
    """Epochs trained by a finished member, refusing one saved without what continuing needs."""
    import nnlib as nn

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
    import sys

    from contest.ensemble import read_manifest
    from contest.train.finish import finish_ensemble
    from contest.train.local import _clean_progress, check_run, plan_jobs, prepare_data, run_jobs
    from contest.train.progress import ProgressMonitor

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
    _clean_progress(Path(out_dir), todo)
    return finish_ensemble(settings, data, trained=todo, workers=workers,
                           wall_seconds=time.time() - started)
