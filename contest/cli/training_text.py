"""The text `contest train-ensemble` prints when it is done: one row per member (epochs, train
time, validation and test accuracy), the ensemble's accuracies, and where the manifest went."""
from contest.cli.display import percent, table


def _pct(value):
    return "-" if value is None else percent(value)


def training_text(manifest, out_dir, seconds):
    """The closing report of train-ensemble: per-member and ensemble accuracies and times."""
    rows = [[str(m["index"]), str(m["epochs"]), f"{m['train_seconds']:.0f} s"
             + (" (resumed)" if m["resumed"] else ""), _pct(m["val_acc"]), _pct(m["test_acc"])]
            for m in manifest["members"]]
    rows.append(["ensemble", "", "", _pct(manifest["validation_accuracy"]),
                 _pct(manifest.get("test_accuracy"))])
    preset = manifest["preset"]
    recipe = (manifest.get("recipe") or {}).get("recipe", preset["name"])
    lines = [f"ensemble of {manifest['n']} x arch {manifest['arch']} (preset {preset['name']}, "
             f"{recipe} recipe, {preset['epochs']} epochs) in {out_dir}/ensemble.json, "
             f"{manifest['jobs']} worker(s), {seconds:.0f} s",
             table(["member", "epochs", "train time", "val acc", "test acc"], rows)]
    if "test_accuracy" in manifest:
        correct = round(manifest["test_accuracy"] * manifest["test_size"])
        lines.append(f"ensemble test accuracy: {_pct(manifest['test_accuracy'])} "
                     f"({correct}/{manifest['test_size']})")
    return "\n".join(lines)
