"""The last stage of training: verify every member, measure validation and test accuracy, draw
learning curves and write the manifest `ensemble.json` (atomically). The text the command prints
about it is contest.cli.training_text's."""
import json
import time
from pathlib import Path

import nnlib as nn

from contest.data.preprocess import normalise
from contest.modeldir.ensemble import (FORMAT, accuracy, average, models_probabilities,
                                       write_manifest)
from contest.errors import ContestError, ContestInputError
from contest.fileio import sha256_file
from contest.modeldir.manifest import check_finite_model
from contest.evaluate.plots import plot_learning_curves
from contest.modeldir.files import CURVES_FILE, member_path


def load_trained(out_dir, index, run):
    """(model, metadata) of a finished member, refusing one trained with other settings."""
    path = member_path(out_dir, index)
    try:
        model, meta = nn.load_with_metadata(path)
    except ValueError as exc:
        raise ContestInputError(path, f"cannot load member ({exc})") from None
    check_finite_model(model, path)
    if meta.get("run") != json.loads(json.dumps(run)):
        raise ContestError(f"{path}: trained with other settings; delete it or use another --out")
    return model, meta


def load_test_set(data):
    """(images, labels) of the run's test set (checked in prepare_data), or None."""
    test = data.source.test
    return None if test is None else (test.images, test.labels)


def evaluate_members(models, data, test):
    """Per-member probabilities on the validation set and (if any) the test set."""
    spec = data.source.spec
    val = models_probabilities(models, data.x_val, spec.classes)
    if test is None:
        return val, None
    x_test = normalise(test[0], data.run["normalisation"], spec)
    return val, models_probabilities(models, x_test, spec.classes)


def member_entry(out_dir, index, meta, val_acc, test_acc):
    path = member_path(out_dir, index)
    return {"index": index, "file": path.name, "sha256": sha256_file(path),
            "spawn_key": meta["spawn_key"], "val_acc": val_acc, "test_acc": test_acc,
            "epochs": len(meta["history"]["epoch"]), "train_seconds": meta["train_seconds"],
            "resumed": meta["resumed"], "curves": CURVES_FILE.format(index)}


def draw_curves(out_dir, index, meta, force):
    path = Path(out_dir) / CURVES_FILE.format(index)
    if force or not path.exists():
        plot_learning_curves(meta["history"], path, title=f"member {index}")


def finish_ensemble(settings, data, trained, workers, wall_seconds):
    """Verify members 0..n-1, score them, write curves and the manifest; return the manifest."""
    out_dir = Path(settings.out_dir)
    loaded = [load_trained(out_dir, k, data.run) for k in range(settings.n)]
    test = load_test_set(data)
    val_p, test_p = evaluate_members([model for model, _ in loaded], data, test)
    entries = []
    for k, (_, meta) in enumerate(loaded):
        draw_curves(out_dir, k, meta, force=k in trained)
        test_acc = None if test_p is None else accuracy(test_p[k], test[1])[0]
        entries.append(member_entry(out_dir, k, meta, accuracy(val_p[k], data.y_val)[0], test_acc))
    manifest = build_manifest(settings, data, entries, workers, wall_seconds)
    manifest["validation_accuracy"] = accuracy(average(val_p), data.y_val)[0]
    if test_p is not None:
        manifest["test_accuracy"] = accuracy(average(test_p), test[1])[0]
        manifest["test_size"] = len(test[1])
    write_manifest(out_dir, manifest)
    return manifest


def build_manifest(settings, data, entries, workers, wall_seconds):
    preset = settings.preset
    return {"format": FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "arch": preset.arch, "preset": preset.to_dict(), "augment": preset.augment,
            "normalisation": settings.normalisation, "seed": settings.seed, "n": settings.n,
            "input_shape": list(data.source.spec.model_shape),
            "num_classes": data.source.spec.classes, "input": data.source.spec.to_dict(),
            "data": {**data.source.record(), "train_limit": settings.train_limit,
                     "train_size": data.run["train_size"],
                     "validation_size": data.run["validation_size"]},
            "recipe": settings.recipe, "members": entries, "jobs": workers, "backend": settings.backend,
            "wall_seconds": round(wall_seconds, 2)}
