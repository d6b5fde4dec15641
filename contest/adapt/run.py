"""`adapt_ensemble`: an ensemble adapted to one unlabelled image set, resumably.

Stage 0 re-estimates every member's BatchNorm statistics on the images (AdaBN, contest.adapt.bn).
Each later stage is a self-training round: the current ensemble labels the images where all
members agree with a confidence at or above the threshold chosen on validation
(contest.adapt.pseudo); every member then trains a little on its own training data plus those
images (contest.adapt.selftrain), members in parallel; BatchNorm statistics are re-estimated on
the images again. A stage that costs more than `max_val_drop` points of accuracy on the source
ensemble's validation split is undone (the next stage starts from the one before): a guard
against images unlike the training data (noise, another kind of picture) and against drift.
No label of the images is ever read: there is none to read.
"""
import time
from dataclasses import fields
from pathlib import Path

import nnlib as nn
import numpy as np

from contest.adapt.bn import adapt_models_bn
from contest.adapt.guards import task_check, weights_accuracy
from contest.adapt.pseudo import NO_THRESHOLD, Votes, choose_threshold, class_counts
from contest.adapt.report import stage_text, task_text
from contest.adapt.rounds import train_round
from contest.adapt.state import (check_settings, identity, open_state, save_state,
                                 stage_dir)
from contest.data.inputs import load_images
from contest.data.preprocess import normalise, to_unit_nchw
from contest.errors import ContestError
from contest.fileio import atomic_open, sha256_file
from contest.modeldir.ensemble import (accuracy, average, load_ensemble, models_probabilities,
                                       write_manifest)
from contest.modeldir.files import MANIFEST, member_path
from contest.train.plan import TrainSettings, prepare_data
from contest.train.presets import Preset

LISTED_CHANGES = 200   # changed predictions listed per round in the manifest


class Context:
    """What every stage needs: the source ensemble, its data, the images, the settings."""

    def __init__(self, settings, monitor_mode="quiet"):
        self.settings, self.monitor_mode = settings, monitor_mode
        self.source = load_ensemble(settings.models)
        self.manifest, self.spec = self.source.manifest, self.source.spec
        self.images = load_images(settings.images, self.spec)
        self.preset = source_preset(self.manifest)
        self.data = source_data(self.manifest, self.preset, settings.data_dir)
        self.x = normalise(self.images, self.manifest["normalisation"], self.spec)
        self.images_sha = sha256_file(settings.images)

    def probabilities(self, models, x=None):
        return models_probabilities(models, self.x if x is None else x, self.spec.classes,
                                    self.settings.batch_size)

    def val_accuracy(self, models):
        return accuracy(average(self.probabilities(models, self.data.x_val)), self.data.y_val)[0]


def source_preset(manifest):
    """The members' Preset from the manifest (fields this version does not know are ignored)."""
    known = {f.name for f in fields(Preset)}
    return Preset(**{k: v for k, v in manifest["preset"].items() if k in known})


def source_data(manifest, preset, data_dir=None):
    """Training and validation data of the source ensemble, checked against its manifest."""
    data = manifest.get("data") or {}
    path = None if data_dir else data.get("path")   # --data PATH it was trained on, if any
    settings = TrainSettings(preset=preset, n=manifest.get("n", 1), seed=manifest.get("seed", 0),
                             train_limit=data.get("train_limit"),
                             data_dir=data_dir or data.get("dir"), data=path,
                             label_column=data.get("label_column", "label"),
                             normalisation=manifest["normalisation"])
    prepared = prepare_data(settings)
    if data.get("md5") is not None and prepared.run["data"]["md5"] != data["md5"]:
        found = settings.data or settings.data_dir or "bundled MNIST"
        raise ContestError(f"the training data found ({found}) is not the data the ensemble was "
                           f"trained on; give --data-dir")
    return prepared


def stage_members(out_dir, number, count):
    return [member_path(stage_dir(out_dir, number), k) for k in range(count)]


def start_members(ctx, start):
    """Member files of stage `start`, or of the source ensemble when `start` is None."""
    if start is None:
        return [Path(ctx.settings.models) / e["file"] for e in ctx.manifest["members"]]
    return stage_members(ctx.settings.out_dir, start, len(ctx.manifest["members"]))


def load_models(paths):
    return [nn.load(path) for path in paths]


def save_models(models, sources, targets, note):
    """Save `models` to `targets` with the metadata of `sources` plus `note`."""
    for model, source, target in zip(models, sources, targets):
        _, meta = nn.load_with_metadata(source)
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        nn.save(model, target, metadata={**meta, **note})


def bn_stage(ctx):
    """Stage 0: AdaBN on the images; returns its report."""
    out = ctx.settings.out_dir
    sources = start_members(ctx, None)
    models = load_models(sources)
    before = Votes.of(ctx.probabilities(models))
    layers = adapt_models_bn(models, ctx.x)
    save_models(models, sources, stage_members(out, 0, len(models)), {"adapt_bn": True})
    after = Votes.of(ctx.probabilities(models))
    report = {"stage": 0, "kind": "batchnorm", "batchnorm_layers": layers}
    return {**report, **comparison(before, after, ctx.spec.classes),
            "val_accuracy": ctx.val_accuracy(models)}


def comparison(before, after, classes):
    changed = np.flatnonzero(before.labels != after.labels)
    return {"agreement_before": before.agreement, "agreement_after": after.agreement,
            "changed": int(len(changed)), "changed_indices": changed[:LISTED_CHANGES].tolist(),
            "classes_after": class_counts(after.labels, classes)}


def round_stage(ctx, number, start, threshold, adapt_bn):
    """Self-training round `number` from the members of stage `start`; returns its report."""
    out, n = ctx.settings.out_dir, len(ctx.manifest["members"])
    sources = start_members(ctx, start)
    before = Votes.of(ctx.probabilities(load_models(sources)))
    chosen = np.flatnonzero(before.selected(threshold))
    report = {"stage": number, "kind": "self-training", "pseudo_labelled": int(len(chosen)),
              "pseudo_classes": class_counts(before.labels[chosen], ctx.spec.classes)}
    if len(chosen) == 0:
        return {**report, "skipped": "no image reached the threshold"}
    x = np.concatenate([ctx.data.x_train, to_unit_nchw(ctx.images[chosen], ctx.spec)])
    y = np.concatenate([ctx.data.y_train, before.labels[chosen].astype(np.int64)])
    trained = train_round(ctx, number, sources, x, y)
    models = load_models(trained)
    if adapt_bn:
        adapt_models_bn(models, ctx.x)
    targets = stage_members(out, number, n)
    save_models(models, trained, targets, {"adapt_bn": adapt_bn})
    for path in trained:
        Path(path).unlink()   # the stage's members are written: the trained files are spent
    after = Votes.of(ctx.probabilities(models))
    return {**report, **comparison(before, after, ctx.spec.classes),
            "val_accuracy": ctx.val_accuracy(models),
            "weights_accuracy": weights_accuracy(targets, ctx.data.x_val, ctx.data.y_val,
                                                 ctx.spec.classes)}


def run_stage(ctx, state, stage, say):
    """Run `stage` (a function returning its report), keep it only if it costs at most
    max_val_drop points of validation accuracy, record it in the state and say it."""
    report = stage()
    if "skipped" in report:
        report["accepted"] = False
    elif "weights_accuracy" in report:
        drop = 100 * (state["source_weights_accuracy"] - report["weights_accuracy"])
        report["accepted"] = bool(drop <= ctx.settings.max_val_drop)
    else:
        report["accepted"] = True   # AdaBN changes no weight; the task check came before
    state["stages"].append(report)
    save_state(ctx.settings.out_dir, state)
    say(stage_text(report))
    return report


def last_accepted(state):
    """The number of the last accepted stage, or None (the source members)."""
    accepted = [s["stage"] for s in state["stages"] if s.get("accepted")]
    return accepted[-1] if accepted else None


def choose_pseudo_threshold(ctx, state):
    """The confidence threshold, chosen once on the source ensemble's validation split."""
    if "threshold" not in state:
        votes = Votes.of(ctx.probabilities(ctx.source.models, ctx.data.x_val))
        threshold, reached, passing = choose_threshold(votes, ctx.data.y_val,
                                                       ctx.settings.precision)
        state["threshold"] = {"confidence": None if np.isinf(threshold) else threshold, "precision": reached,
                              "validation_images": passing, "validation_size": len(votes.labels),
                              "target_precision": ctx.settings.precision}
        state["original_val_accuracy"] = ctx.val_accuracy(ctx.source.models)
        contest = Votes.of(ctx.probabilities(ctx.source.models))
        state["original_predictions"] = contest.labels.tolist()
        state["task_check"] = task_check(contest, votes, ctx.settings.min_agreement,
                                         ctx.settings.min_spread)
        state["source_weights_accuracy"] = weights_accuracy(start_members(ctx, None),
                                                            ctx.data.x_val, ctx.data.y_val,
                                                            ctx.spec.classes)
        save_state(ctx.settings.out_dir, state)
    confidence = state["threshold"]["confidence"]
    return NO_THRESHOLD if confidence is None else confidence


def adapt_ensemble(settings, say=print, monitor_mode="lines"):
    """Adapt the ensemble settings.models to settings.images into settings.out_dir; returns the
    manifest written there. Rerunning with the same arguments resumes."""
    check_settings(settings)
    ctx = Context(settings, monitor_mode)
    state = open_state(settings.out_dir, identity(settings, sha256_file(
        Path(settings.models) / MANIFEST), ctx.images_sha))
    threshold = choose_pseudo_threshold(ctx, state)
    say(threshold_line(state["threshold"]))
    done = {s["stage"] for s in state["stages"]}
    say(task_line(state["task_check"]))
    if not state["task_check"]["passed"]:
        return finish(ctx, state)
    if 0 not in done:
        run_stage(ctx, state, lambda: bn_stage(ctx), say)
    adapt_bn = bool(state["stages"][0]["accepted"])
    for number in range(1, settings.rounds + 1):
        if number not in done:
            start = last_accepted(state)
            run_stage(ctx, state, lambda: round_stage(ctx, number, start, threshold, adapt_bn),
                      say)
    return finish(ctx, state)


def task_line(check):
    return "task check: " + task_text(check)


def threshold_line(threshold):
    if threshold["precision"] is None:
        return (f"pseudo-label threshold: none reaches {100 * threshold['target_precision']:.2f} % "
                f"precision on validation; no self-training")
    return (f"pseudo-label threshold: confidence >= {threshold['confidence']:.4f} with all members "
            f"agreeing ({100 * threshold['precision']:.2f} % precise on "
            f"{threshold['validation_images']}/{threshold['validation_size']} validation images)")


def finish(ctx, state):
    """Copy the last accepted stage's members to OUT and write its manifest; return it."""
    out, n = Path(ctx.settings.out_dir), len(ctx.manifest["members"])
    start = last_accepted(state)
    entries = []
    for k, (source, entry) in enumerate(zip(start_members(ctx, start), ctx.manifest["members"])):
        target = member_path(out, k)
        with atomic_open(target, "wb") as handle:
            handle.write(Path(source).read_bytes())
        entries.append({**entry, "file": target.name, "sha256": sha256_file(target)})
    models = load_models([member_path(out, k) for k in range(n)])
    final = Votes.of(ctx.probabilities(models))
    original = np.asarray(state["original_predictions"])
    changed = np.flatnonzero(final.labels != original)
    manifest = {key: value for key, value in ctx.manifest.items()
                if key not in ("test_accuracy", "test_size")}
    manifest["members"] = entries
    manifest["validation_accuracy"] = ctx.val_accuracy(models)
    manifest["adapted"] = {
        "images_file": Path(ctx.settings.images).name, "images_sha256": ctx.images_sha,
        "images": len(ctx.x), "source": str(ctx.settings.models),
        "source_manifest_sha256": state["identity"]["source_manifest_sha256"],
        "method": ctx.settings.method(), "threshold": state["threshold"],
        "source_validation_accuracy": state["original_val_accuracy"],
        "task_check": state["task_check"],
        "source_weights_accuracy": state["source_weights_accuracy"],
        "final_stage": start, "stages": state["stages"],
        "changed_from_source": int(len(changed)),
        "changed_indices": changed[:LISTED_CHANGES].tolist(), "finished": time.strftime(
            "%Y-%m-%dT%H:%M:%S%z")}
    write_manifest(out, manifest)
    return manifest
