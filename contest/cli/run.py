"""What each `contest` command does, as plain functions returning the text to print.

The click layer (contest.cli) only parses options and echoes; these functions validate every input
before writing anything, so a refused input never leaves an output file behind.
"""
from pathlib import Path

import numpy as np

from contest.cli import display, outputs
from contest.adapt.command import prepare_for
from contest.data.datasets import load_split, resolve_data_dir
from contest.data.formats import check_test_matches, load_data
from contest.data.inputs import check_file, load_images, load_labels
from contest.data.spec import MNIST, spec_of_manifest
from contest.modeldir.ensemble import accuracy, confusion_matrix, load_ensemble, read_manifest
from contest.modeldir.files import MANIFEST
from contest.fileio import atomic_open, write_npy
from contest.data.submission import (check_submission_path, format_for, read_submission,
                                     write_submission)
from contest.evaluate.tta import describe, probabilities
from contest.evaluate.views import VIEWS, Evaluation, view_text
from contest.errors import ContestError, ContestInputError, check_seed

MAX_LISTED_MISTAKES = 200


def load_for_prediction(models, manifest=None):
    """The verified ensemble of `models`, in a process whose allocator keeps big freed blocks
    (nnlib.retain_freed_memory: faster passes). A process-wide choice, so the command makes it
    and contest.modeldir, which a notebook user calls too, does not."""
    import nnlib as nn

    nn.retain_freed_memory()
    return load_ensemble(models, manifest)


def accuracy_text(fraction, correct, total):
    return f"{display.percent(fraction)} ({correct}/{total})"


def data_dir_for(data_dir, manifest):
    """--data-dir / $CONTEST_DATA_DIR if given, else the directory the ensemble was trained on."""
    return data_dir or (manifest.get("data") or {}).get("dir")


def run_predict(images_path, output, models, fmt=None, proba_path=None, batch_size=1000,
                low_confidence=0.9, tta=False, adapt=None):
    """Predict and write the submission (`output` "-": to standard output, after every other
    output is written); the summary text to print (on standard error when output is "-")."""
    to_stdout = str(output) == "-"
    outputs.check_outputs([outputs.output("-o/--output", None if to_stdout else output),
                           outputs.output("--proba", proba_path, (".npy",))],
                          inputs=[images_path], model_dirs=[models])
    check_submission_path(output, fmt)
    images = load_images(images_path, manifest_spec(models))
    ensemble = load_for_prediction(models)
    adapted = prepare_for(ensemble, images, images_path, adapt)
    mean, _ = probabilities(ensemble, images, batch_size, tta)
    labels = mean.argmax(axis=1)
    used = format_for(output, fmt)
    writes = [] if to_stdout else [(output, lambda tmp: write_submission(tmp, labels, used))]
    if proba_path is not None:
        writes.append((proba_path, lambda tmp: write_npy(tmp, mean)))
    outputs.write_all(writes)
    if to_stdout:
        import sys

        from contest.data.submission import render_submission

        sys.stdout.write(render_submission(labels, used))
        sys.stdout.flush()
    text = prediction_summary(mean, labels, len(ensemble), "standard output" if to_stdout
                              else output, used, low_confidence, ensemble.spec)
    return text + ("\n" + describe(tta) if tta else "") + adapted


def manifest_spec(models):
    """The InputSpec of the ensemble in `models` (read from its manifest only)."""
    return spec_of_manifest(read_manifest(models), Path(models) / MANIFEST)


def class_names_of(spec):
    """Names to print beside class numbers, or None when the classes are only numbered."""
    return spec.class_names if spec.named else None


def prediction_summary(mean, labels, members, output, fmt, low_confidence, spec=None):
    names = None if spec is None else class_names_of(spec)
    confidence = mean.max(axis=1)
    low = int(np.count_nonzero(confidence < low_confidence))
    return "\n".join([
        f"predicted {len(labels)} images with {members} members -> {output} ({fmt})",
        f"mean confidence: {confidence.mean():.4f}",
        f"low confidence (< {low_confidence:g}): {low} images",
        "predicted classes:", display.class_histogram(labels, mean.shape[1], names=names)])


def one_image(image_path, index, data_dir, manifest, spec):
    """(image (H, W[, C]), true label or None, description): image `index` of the file
    `image_path` (any form predict reads), else of the test set (predict-one, inspect image)."""
    if image_path is not None:
        images, labels, what = load_images(image_path, spec), None, str(image_path)
    else:
        images, labels, _ = default_test_set(data_dir, manifest, spec)
        what = "test set"
    if index >= len(images):
        source = image_path if image_path is not None else "test set"
        raise ContestInputError(source, f"--index {index} out of range ({len(images)} images)")
    return images[index], None if labels is None else int(labels[index]), f"{what} #{index}"


def run_predict_one(models, index=0, image_path=None, label=None, data_dir=None, save_png=None):
    outputs.check_outputs([outputs.output("--save-png", save_png, (".png",))],
                          inputs=[image_path], model_dirs=[models, data_dir])
    from concurrent.futures import ThreadPoolExecutor

    manifest = read_manifest(models)
    spec = spec_of_manifest(manifest, Path(models) / MANIFEST)
    with ThreadPoolExecutor(1) as pool:   # the image is read (gzip, md5 free the GIL) meanwhile
        image_of = pool.submit(one_image, image_path, index, data_dir, manifest, spec)
        ensemble = load_for_prediction(models, manifest)
        image, true, what = image_of.result()
    true = label if label is not None else true
    if true is not None and not 0 <= true < spec.classes:
        raise ContestError(f"--label {true} is not a class of this ensemble "
                           f"(0..{spec.classes - 1})")
    mean, members = ensemble.predict_proba(image[None], batch_size=1)
    text = one_prediction_text(image, mean[0], members[:, 0], true, what, spec)
    if save_png is not None:
        from contest.evaluate.plots import plot_prediction   # matplotlib: only --save-png pays

        title, names = f"{what}: predicted {spec.label(mean[0].argmax())}", class_names_of(spec)
        outputs.write_all([(save_png, lambda tmp: plot_prediction(image, mean[0], tmp,
                                                                  title=title, names=names))])
        text += f"\nsaved {save_png}"
    return text


def one_prediction_text(image, proba, member_proba, true, what, spec=None):
    spec = spec or MNIST
    name = spec.label
    digit = int(proba.argmax())
    top3 = np.argsort(proba)[::-1][:3]
    lines = [what, display.digit_art(image),
             f"prediction: {name(digit)}  (confidence {proba[digit]:.4f})",
             "top 3: " + ", ".join(f"{name(d)} ({proba[d]:.4f})" for d in top3)]
    if true is not None:
        lines.append(f"true label: {name(true)}  -> {'right' if true == digit else 'WRONG'}")
    votes = [f"#{m} -> {name(p.argmax())} ({p.max():.3f})" for m, p in enumerate(member_proba)]
    lines += ["member votes: " + ", ".join(votes),
              display.probability_bars(proba, marked=digit, names=class_names_of(spec))]
    return "\n".join(lines)


def default_test_set(data_dir, manifest, spec):
    """(images, labels, description) of the test set evaluate and predict-one use by default:
    --data-dir / $CONTEST_DATA_DIR if given, else the test set the ensemble was trained with
    (its --test, or its data's own test split), else the bundled MNIST's for MNIST ensembles."""
    recorded = manifest.get("data") or {}
    idx = recorded.get("format", "idx") == "idx"
    if not data_dir and recorded.get("test"):
        test = check_test_matches(load_data(recorded["test"], "test"), spec)
    elif not idx and not data_dir:
        raise ContestError("this ensemble was trained without a test set: give --images and "
                           "--labels (or --image for predict-one)")
    elif spec == MNIST:
        images, labels = load_split("test", data_dir_for(data_dir, manifest))
        return images, labels, f"test set ({len(labels)} images)"
    else:
        directory = resolve_data_dir(data_dir_for(data_dir, manifest))
        test = check_test_matches(load_data(directory, "test"), spec)
    return test.images, test.labels, f"test set {test.source} ({len(test.labels)} images)"


def _class_legend(spec):
    """['classes: 0 T-shirt/top, 1 Trouser, ...'] for named classes, [] for numbered ones."""
    if not spec.named:
        return []
    return ["classes: " + ", ".join(spec.label(k) for k in range(spec.classes))]


def labelled_set(images_path, labels_path, data_dir, manifest, spec):
    """(images, labels, description): --images with --labels, else the ensemble's test set."""
    if (images_path is None) != (labels_path is None):
        raise ContestInputError(images_path or labels_path, "--images and --labels go together")
    if images_path is None:
        return default_test_set(data_dir, manifest, spec)
    images = load_images(images_path, spec)
    labels = load_labels(labels_path, n_expected=len(images), classes=spec.classes)
    return images, labels, f"{images_path} ({len(labels)} images)"


def run_evaluate(models, images_path=None, labels_path=None, data_dir=None, batch_size=1000,
                 report_path=None, tta=False, robustness=False, seed=0, variants=None, views=()):
    """Evaluation text; with `robustness` or `variants` ("a,b") also the robustness table, and
    the text of every view named in `views` (contest.evaluate.views)."""
    _check_views(views)
    names = _variant_names(robustness, variants, seed)
    _check_report(report_path, names is not None, (images_path, labels_path), (models, data_dir))
    ensemble = load_for_prediction(models)
    spec = ensemble.spec
    if names is not None and spec.channels != 1:
        raise ContestError(f"--robustness works on grey images; this ensemble takes "
                           f"{spec.shape_text()} colour images")
    images, labels, what = labelled_set(images_path, labels_path, data_dir,
                                            ensemble.manifest, spec)
    mean, members = probabilities(ensemble, images, batch_size, tta)
    predicted = mean.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted, spec.classes)
    what += f"; {describe(tta)}" if tta else ""
    text = evaluation_text(ensemble, what, members, mean, labels, matrix)
    overlap, overlap_lines = _overlap(members, labels, predicted)
    text += overlap_lines
    table = examples = None
    if names is not None:
        from contest.evaluate.robustness import evaluate_robustness, robustness_text

        table, examples = evaluate_robustness(ensemble, images, labels, seed, names, batch_size,
                                              tta, known=(mean, members))
        text += "\n" + robustness_text(table, seed, len(labels))
    evaluation = Evaluation(ensemble, images, labels, mean, members)
    text += "".join("\n" + view_text(name, evaluation) for name in views)
    if report_path is not None:
        text += _write_report(report_path, (matrix, images, labels, predicted), table, examples,
                              overlap)
    return text


def _overlap(members, labels, predicted):
    """(the members' pairwise error overlap (contest.evaluate.overlap), its lines of text);
    (None, "") for a single member."""
    from contest.evaluate.overlap import member_overlap, overlap_lines

    overlap = member_overlap(members, labels, predicted)
    return overlap, "" if overlap is None else "\n" + overlap_lines(overlap)


def _check_views(views):
    unknown = [name for name in views if name not in VIEWS]
    if unknown:
        raise ContestError(f"--view: unknown view(s) {', '.join(map(repr, unknown))}; choose "
                           f"from {', '.join(sorted(VIEWS))}")


def _variant_names(robustness, variants, seed):
    """The variant names to score (None: no robustness evaluation), checked before any work."""
    if not robustness and variants is None:
        return None
    check_seed(seed)
    from contest.evaluate.robustness import check_variant_names

    try:
        return check_variant_names(variants)
    except ValueError as exc:
        raise ContestError(f"--variants: {exc}") from None


def _check_report(report_path, with_robustness, inputs, model_dirs):
    if report_path is None:
        return
    wanted = [outputs.output("--report", report_path, (".png",))]
    if with_robustness:
        from contest.evaluate.robustness import variants_path

        wanted.append(outputs.output("--report (variants)", variants_path(report_path), (".png",)))
    outputs.check_outputs(wanted, inputs=inputs, model_dirs=model_dirs)


def _write_report(report_path, evaluation, table, examples, overlap=None):
    """Draw the PNG report (and the variant grid beside it); the lines saying where they went."""
    from contest.evaluate.plots import plot_evaluation

    matrix, images, labels, predicted = evaluation
    writes = [(report_path, lambda tmp: plot_evaluation(matrix, images, labels, predicted, tmp,
                                                        robustness=table, overlap=overlap))]
    if table is None:
        outputs.write_all(writes)
        return f"\nsaved {report_path}"
    from contest.evaluate.robustness import save_examples, variants_path

    outputs.write_all(writes + [(variants_path(report_path),
                                 lambda tmp: save_examples(examples, tmp))])
    return f"\nsaved {report_path} and {variants_path(report_path)} (variant examples)"


def evaluation_text(ensemble, what, members, mean, labels, matrix):
    manifest, n = ensemble.manifest, len(labels)
    rows = [[str(m), accuracy_text(*accuracy(p, labels), n)] for m, p in enumerate(members)]
    wrong = np.flatnonzero(mean.argmax(axis=1) != labels)
    listed = ", ".join(map(str, wrong[:MAX_LISTED_MISTAKES]))
    hidden = len(wrong) - MAX_LISTED_MISTAKES
    more = f", ... ({hidden} more)" if hidden > 0 else ""
    return "\n".join([
        f"ensemble {ensemble.directory}: {len(ensemble)} members, arch {manifest['arch']}, "
        f"preset {manifest.get('preset', {}).get('name', '?')}", f"evaluated on {what}",
        display.table(["member", "accuracy"], rows)]
        + _class_legend(ensemble.spec) + [
        f"ensemble accuracy: {accuracy_text(*accuracy(mean, labels), n)}",
        "confusion matrix (rows: true, columns: predicted):", display.confusion_table(matrix),
        f"misclassified ({len(wrong)}): {listed}{more}"])


def run_score(submission, labels_path):
    predicted = read_submission(check_file(submission))
    labels = load_labels(labels_path, classes=None)
    if len(predicted) != len(labels):
        raise ContestInputError(submission, f"{len(predicted)} predictions for {len(labels)} "
                                            f"labels in {labels_path}")
    return f"accuracy: {accuracy_text(*accuracy(predicted, labels), len(labels))}"


def run_export(split, out, labels_out=None, limit=None, data_dir=None, fmt=None):
    """Write a split as .npy or as Kaggle CSV (`fmt` "csv", or an .csv `out`): the train split
    as train.csv (label,pixel0,...), the test split as test.csv (pixel0,... only)."""
    fmt = fmt or ("csv" if Path(out).suffix.lower() == ".csv" else "npy")
    outputs.check_outputs([outputs.output("--out", out, (f".{fmt}",)),
                           outputs.output("--labels", labels_out, (".npy",))],
                          model_dirs=[data_dir])
    images, labels = load_split(split, data_dir)
    images, labels = images[:limit], labels[:limit]
    with_labels = fmt == "csv" and split == "train"
    if fmt == "csv":
        rows = labels if with_labels else None
        writes = [(out, lambda tmp: write_kaggle_csv(tmp, images, rows))]
    else:
        writes = [(out, lambda tmp: write_npy(tmp, np.ascontiguousarray(images)))]
    shape = "x".join(map(str, images.shape[1:]))
    text = f"wrote {len(images)} {split} images (uint8, {shape}) " \
           f"{'with their labels ' if with_labels else ''}to {out}"
    if labels_out is not None:
        writes.append((labels_out, lambda tmp: write_npy(tmp, labels.astype(np.int64))))
        text += f"\nwrote {len(labels)} labels to {labels_out}"
    outputs.write_all(writes)
    return text


def write_kaggle_csv(path, images, labels=None):
    """Images as a Kaggle test.csv (header pixel0..pixelP-1, one row of P integers per image),
    or with `labels` as a train.csv (a first column `label`)."""
    pixels = np.asarray(images).reshape(len(images), -1)
    names = [f"pixel{i}" for i in range(pixels.shape[1])]
    if labels is not None:
        pixels = np.column_stack([np.asarray(labels, dtype=np.int64), pixels])
        names.insert(0, "label")
    with atomic_open(path, "w", encoding="ascii", newline="\n") as handle:
        np.savetxt(handle, pixels, fmt="%d", delimiter=",", header=",".join(names), comments="")
