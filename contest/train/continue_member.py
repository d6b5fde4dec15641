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
from dataclasses import replace
from pathlib import Path

from contest.errors import ContestError, ContestInputError
from contest.modeldir.ensemble import load_ensemble, read_manifest
from contest.modeldir.files import MANIFEST, member_path


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
    if settings.init_from is None:
        if settings.freeze:
            raise ContestError("--freeze needs --init-from (the weights to keep fixed)")
        return settings
    manifest = read_manifest(settings.init_from)
    preset = replace(settings.preset, arch=manifest["arch"])
    return replace(settings, preset=preset, normalisation=manifest["normalisation"])


def init_identity(init_from, spec):
    """The run identity's record of the --init-from ensemble, refused if its images differ."""
    ensemble = load_ensemble(init_from)          # every member verified (sha256, shapes)
    theirs = ensemble.spec
    if theirs.model_shape != spec.model_shape:
        raise ContestInputError(Path(init_from) / MANIFEST,
                                f"--init-from ensemble takes {theirs.shape_text()} images, the "
                                f"training data has {spec.shape_text()} images")
    entries = ensemble.manifest["members"]
    return {"dir": str(Path(init_from).resolve()), "members": [e["file"] for e in entries],
            "sha256": [e["sha256"] for e in entries]}
