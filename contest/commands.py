"""What each `contest` command does, as plain functions returning the text to print.

The click layer (contest.cli) only parses options and echoes; these functions validate every input
before writing anything, so a refused input never leaves an output file behind.
"""
from pathlib import Path

import numpy as np

from contest import display
from contest.errors import ContestError, ContestInputError

MAX_LISTED_MISTAKES = 200


def check_output(path, suffixes=None):
    """Refuse an output path that is a directory or has the wrong suffix (before any work)."""
    path = Path(path)
    if path.is_dir():
        raise ContestInputError(path, "output path is a directory")
    if suffixes and path.suffix.lower() not in suffixes:
        raise ContestInputError(path, f"output must end with {' or '.join(suffixes)}")
    return path


def accuracy_text(fraction, correct, total):
    return f"{display.percent(fraction)} ({correct}/{total})"


def data_dir_for(data_dir, manifest):
    """--data-dir / $CONTEST_DATA_DIR if given, else the directory the ensemble was trained on."""
    return data_dir or (manifest.get("data") or {}).get("dir")


def run_predict(images_path, output, models, fmt=None, proba_path=None, batch_size=1000,
                low_confidence=0.9, tta=False, adapt=None):
    from contest.adapt.command import prepare_for
    from contest.ensemble import load_ensemble
    from contest.fileio import write_npy
    from contest.data.inputs import load_images
    from contest.submission import write_submission
    from contest.tta import describe, probabilities

    check_output(output)
    if proba_path is not None:
        check_output(proba_path, (".npy",))
    images = load_images(images_path)
    ensemble = load_ensemble(models)
    adapted = prepare_for(ensemble, images, images_path, adapt)
    mean, _ = probabilities(ensemble, images, batch_size, tta)
    labels = mean.argmax(axis=1)
    used = write_submission(output, labels, fmt)
    if proba_path is not None:
        write_npy(proba_path, mean)
    text = prediction_summary(mean, labels, len(ensemble), output, used, low_confidence)
    return text + ("\n" + describe(tta) if tta else "") + adapted


def prediction_summary(mean, labels, members, output, fmt, low_confidence):
    confidence = mean.max(axis=1)
    low = int(np.count_nonzero(confidence < low_confidence))
    return "\n".join([
        f"predicted {len(labels)} images with {members} members -> {output} ({fmt})",
        f"mean confidence: {confidence.mean():.4f}",
        f"low confidence (< {low_confidence:g}): {low} images",
        "predicted classes:", display.class_histogram(labels)])


def _one_image(image_path, index, data_dir):
    """(image (28, 28), true label or None, description) for predict-one."""
    if image_path is not None:
        from contest.data.inputs import load_images

        images, labels, what = load_images(image_path), None, str(image_path)
    else:
        from contest.data.datasets import load_split

        (images, labels), what = load_split("test", data_dir), "test set"
    if index >= len(images):
        source = image_path if image_path is not None else "test set"
        raise ContestInputError(source, f"--index {index} out of range ({len(images)} images)")
    return images[index], None if labels is None else int(labels[index]), f"{what} #{index}"


def run_predict_one(models, index=0, image_path=None, label=None, data_dir=None, save_png=None):
    from contest.ensemble import load_ensemble

    if save_png is not None:
        check_output(save_png, (".png",))
    ensemble = load_ensemble(models)
    image, true, what = _one_image(image_path, index, data_dir_for(data_dir, ensemble.manifest))
    true = label if label is not None else true
    mean, members = ensemble.predict_proba(image[None], batch_size=1)
    text = one_prediction_text(image, mean[0], members[:, 0], true, what)
    if save_png is not None:
        from contest.report import plot_prediction

        plot_prediction(image, mean[0], save_png, title=f"{what}: predicted {mean[0].argmax()}")
        text += f"\nsaved {save_png}"
    return text


def one_prediction_text(image, proba, member_proba, true, what):
    digit = int(proba.argmax())
    top3 = np.argsort(proba)[::-1][:3]
    lines = [what, display.digit_art(image),
             f"prediction: {digit}  (confidence {proba[digit]:.4f})",
             "top 3: " + ", ".join(f"{d} ({proba[d]:.4f})" for d in top3)]
    if true is not None:
        lines.append(f"true label: {true}  -> {'right' if true == digit else 'WRONG'}")
    votes = [f"#{m} -> {int(p.argmax())} ({p.max():.3f})" for m, p in enumerate(member_proba)]
    lines += ["member votes: " + ", ".join(votes), display.probability_bars(proba, marked=digit)]
    return "\n".join(lines)


def _evaluation_data(images_path, labels_path, data_dir):
    from contest.data.inputs import load_images, load_labels

    if (images_path is None) != (labels_path is None):
        raise ContestInputError(images_path or labels_path, "--images and --labels go together")
    if images_path is None:
        from contest.data.datasets import load_split

        images, labels = load_split("test", data_dir)
        return images, labels, f"test set ({len(labels)} images)"
    images = load_images(images_path)
    labels = load_labels(labels_path, n_expected=len(images))
    return images, labels, f"{images_path} ({len(labels)} images)"


def run_evaluate(models, images_path=None, labels_path=None, data_dir=None, batch_size=1000,
                 report_path=None, tta=False, robustness=False, seed=0, variants=None):
    """Evaluation text; with `robustness` or `variants` ("a,b") also the robustness table."""
    from contest.ensemble import confusion_matrix, load_ensemble
    from contest.tta import describe, probabilities

    names = _variant_names(robustness, variants, seed)
    _check_report(report_path, names is not None)
    ensemble = load_ensemble(models)
    images, labels, what = _evaluation_data(images_path, labels_path,
                                            data_dir_for(data_dir, ensemble.manifest))
    mean, members = probabilities(ensemble, images, batch_size, tta)
    predicted = mean.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted)
    what += f"; {describe(tta)}" if tta else ""
    text = evaluation_text(ensemble, what, members, mean, labels, matrix)
    table = examples = None
    if names is not None:
        from contest.robustness_report import evaluate_robustness, robustness_text

        table, examples = evaluate_robustness(ensemble, images, labels, seed, names, batch_size,
                                              tta, known=(mean, members))
        text += "\n" + robustness_text(table, seed, len(labels))
    if report_path is not None:
        text += _write_report(report_path, (matrix, images, labels, predicted), table, examples)
    return text


def _variant_names(robustness, variants, seed):
    """The variant names to score (None: no robustness evaluation), checked before any work."""
    if not robustness and variants is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ContestError(f"--seed must be a non-negative integer (received: {seed!r})")
    from contest.robustness_report import check_variant_names

    try:
        return check_variant_names(variants)
    except ValueError as exc:
        raise ContestError(f"--variants: {exc}") from None


def _check_report(report_path, with_robustness):
    if report_path is None:
        return
    check_output(report_path, (".png",))
    if with_robustness:
        from contest.robustness_report import variants_path

        check_output(variants_path(report_path), (".png",))


def _write_report(report_path, evaluation, table, examples):
    """Draw the PNG report (and the variant grid beside it); the lines saying where they went."""
    from contest.report import plot_evaluation

    matrix, images, labels, predicted = evaluation
    plot_evaluation(matrix, images, labels, predicted, report_path, robustness=table)
    if table is None:
        return f"\nsaved {report_path}"
    from contest.robustness_report import save_examples, variants_path

    save_examples(examples, variants_path(report_path))
    return f"\nsaved {report_path} and {variants_path(report_path)} (variant examples)"


def evaluation_text(ensemble, what, members, mean, labels, matrix):
    from contest.ensemble import accuracy

    manifest, n = ensemble.manifest, len(labels)
    rows = [[str(m), accuracy_text(*accuracy(p, labels), n)] for m, p in enumerate(members)]
    wrong = np.flatnonzero(mean.argmax(axis=1) != labels)
    listed = ", ".join(map(str, wrong[:MAX_LISTED_MISTAKES]))
    hidden = len(wrong) - MAX_LISTED_MISTAKES
    more = f", ... ({hidden} more)" if hidden > 0 else ""
    return "\n".join([
        f"ensemble {ensemble.directory}: {len(ensemble)} members, arch {manifest['arch']}, "
        f"preset {manifest.get('preset', {}).get('name', '?')}", f"evaluated on {what}",
        display.table(["member", "accuracy"], rows),
        f"ensemble accuracy: {accuracy_text(*accuracy(mean, labels), n)}",
        "confusion matrix (rows: true, columns: predicted):", display.confusion_table(matrix),
        f"misclassified ({len(wrong)}): {listed}{more}"])


def run_score(submission, labels_path):
    from contest.ensemble import accuracy
    from contest.data.inputs import check_file, load_labels
    from contest.submission import read_submission

    predicted = read_submission(check_file(submission))
    labels = load_labels(labels_path)
    if len(predicted) != len(labels):
        raise ContestInputError(submission, f"{len(predicted)} predictions for {len(labels)} "
                                            f"labels in {labels_path}")
    return f"accuracy: {accuracy_text(*accuracy(predicted, labels), len(labels))}"


def run_export(split, out, labels_out=None, limit=None, data_dir=None):
    from contest.data.datasets import load_split
    from contest.fileio import write_npy

    check_output(out, (".npy", ".csv"))
    if labels_out is not None:
        check_output(labels_out, (".npy",))
    images, labels = load_split(split, data_dir)
    images, labels = images[:limit], labels[:limit]
    if Path(out).suffix.lower() == ".csv":
        write_kaggle_csv(out, images)
    else:
        write_npy(out, np.ascontiguousarray(images))
    text = f"wrote {len(images)} {split} images (uint8, 28x28) to {out}"
    if labels_out is not None:
        write_npy(labels_out, labels.astype(np.int64))
        text += f"\nwrote {len(labels)} labels to {labels_out}"
    return text


def write_kaggle_csv(path, images):
    """Images as a Kaggle test.csv: header pixel0..pixel783, one row of 784 integers per image."""
    from contest.fileio import atomic_open

    header = ",".join(f"pixel{i}" for i in range(784))
    with atomic_open(path, "w", encoding="ascii", newline="\n") as handle:
        np.savetxt(handle, images.reshape(len(images), 784), fmt="%d", delimiter=",",
                   header=header, comments="")
