"""`contest inspect set` (a labelled set, default the test set) and `contest inspect labels` (the
training labels the ensemble contradicts)."""
import numpy as np

from contest.cli import display, outputs
from contest.cli.run import labelled_set
from contest.fileio import atomic_open
from contest.inspect.commands import (LABEL_FILES, SET_FILES, _write_json, checked_outputs,
                                      load, progress_bar)
from contest.inspect.training import training_neighbours


def _votes(members, i):
    """Every member's class for image i: "99949" (ten classes or fewer) or "12,12,3"."""
    votes = [str(int(v)) for v in members[:, i].argmax(axis=1)]
    return "".join(votes) if members.shape[2] <= 10 else ",".join(votes)


def _set_summary(view):
    c, a = view.calibration, view.agreement
    return {"images": int(len(view.labels)),
            "accuracy": float(np.mean(view.mean.argmax(axis=1) == view.labels)),
            "ece": {name: r["ece"] for name, r in c.items()},
            "agreement": [{"members": int(lv), "images": int(n),
                           "accuracy": None if n == 0 else float(acc)}
                          for lv, n, acc in zip(a["level"], a["count"], a["accuracy"])],
            "confusions": [{"true": t, "predicted": p, "images": n} for t, p, n in view.pairs],
            "mistakes": [int(i) for i in view.mistakes],
            "pca_explained": [float(e) for e in view.explained]}


def _set_writes(paths, view, images, spec, what):
    from contest.inspect import plots_set

    pred = view.mean.argmax(axis=1)
    captions = [f"#{i}: {spec.label(int(view.labels[i]))[:8]}->{spec.label(int(pred[i]))[:8]} "
                f"({view.mean[i].max():.2f})\nvotes {_votes(view.members, i)}"
                for i in view.mistakes]
    wrong = np.flatnonzero(pred != view.labels)
    return [
        (paths["mistakes"], lambda t: plots_set.plot_gallery(
            t, images, view.mistakes, captions, f"{what}: the most confident mistakes "
                                                "(true->predicted, member votes)")),
        (paths["confusions"], lambda t: plots_set.plot_confusions(
            t, view.pairs, spec, f"{what}: the costliest confusions")),
        (paths["calibration"], lambda t: plots_set.plot_calibration(
            t, view.calibration, f"{what}: reliability (calibration)")),
        (paths["agreement"], lambda t: plots_set.plot_agreement(
            t, view.agreement, f"{what}: member agreement")),
        (paths["pca"], lambda t: plots_set.plot_pca(
            t, view.pca, view.labels, wrong, view.explained, spec,
            f"{what}: penultimate features, first two principal components")),
        (paths["json"], _write_json(_set_summary(view)))]


def run_inspect_set(models, out_dir, images_path=None, labels_path=None, data_dir=None):
    from contest.inspect.views import set_view

    paths = checked_outputs(out_dir, SET_FILES, [images_path, labels_path], models, data_dir)
    ensemble, spec = load(models)
    images, labels, what = labelled_set(images_path, labels_path, data_dir, ensemble.manifest,
                                        spec)
    bar = progress_bar("set features")(len(images) * len(ensemble.models))
    try:
        view = set_view(ensemble, images, labels, bar)
    finally:
        bar.close()
    outputs.write_all(_set_writes(paths, view, images, spec, what.split(" (")[0]))
    return set_text(view, what, spec, paths)


def set_text(view, what, spec, paths):
    summary = _set_summary(view)
    lines = [f"{what}: ensemble accuracy {display.percent(summary['accuracy'])}",
             "expected calibration error (ECE): " + ", ".join(
                 f"{name} {100 * e:.2f} %" for name, e in summary["ece"].items()),
             "members agreeing with the ensemble: " + ", ".join(
                 f"{a['members']}: {a['images']} images" + (
                     "" if a["accuracy"] is None else f" ({100 * a['accuracy']:.1f} % right)")
                 for a in summary["agreement"]),
             "costliest confusions: " + (", ".join(
                 f"{spec.label(t)}->{spec.label(p)} {n}" for t, p, n in view.pairs[:5]) or "none"),
             "wrote " + ", ".join(str(p) for p in paths.values())]
    return "\n".join(lines)


def _write_csv(rows):
    def write(tmp):
        with atomic_open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write("rank,index,label,predicted,confidence,label_probability\n")
            handle.writelines(",".join(str(v) for v in row) + "\n" for row in rows)
    return write


def run_inspect_labels(models, out_dir, data_dir=None, top=48, max_label_proba=0.1,
                       cache_dir=None):
    from contest.inspect import plots_set
    from contest.inspect.views import label_view

    paths = checked_outputs(out_dir, LABEL_FILES, [], models, data_dir)
    ensemble, spec = load(models)
    index, (images, _) = training_neighbours(ensemble, data_dir, cache_dir,
                                             progress_bar("training-image features (once)"))
    suspects = label_view(index, max_label_proba)
    rows = [(r + 1, int(i), int(index.labels[i]), int(index.predicted[i]),
             f"{index.confidence[i]:.4f}", f"{index.label_proba[i]:.4f}")
            for r, i in enumerate(suspects)]
    shown = suspects[:top]
    captions = [f"#{i}: label {spec.label(int(index.labels[i]))[:8]}\nsays "
                f"{spec.label(int(index.predicted[i]))[:8]} ({index.confidence[i]:.2f})"
                for i in shown]
    outputs.write_all([
        (paths["gallery"], lambda t: plots_set.plot_gallery(
            t, images, shown, captions, f"training labels to check ({len(suspects)} given "
                                        f"probability <= {max_label_proba:g})")),
        (paths["csv"], _write_csv(rows))])
    first = ", ".join(f"#{r[1]} ({spec.label(r[2])}->{spec.label(r[3])})" for r in rows[:10])
    return "\n".join([f"training set ({len(images)} images): {len(suspects)} labels the "
                      f"ensemble gives a probability "
                      f"<= {max_label_proba:g}", f"most suspicious: {first or 'none'}",
                      "wrote " + ", ".join(str(p) for p in paths.values())])
