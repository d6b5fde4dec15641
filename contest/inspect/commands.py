"""`contest inspect image|set|labels`: load, compute the view (contest.inspect.views), write the
PNGs, JSON and CSV under --out (every path checked before any work, all written or none), and
return the terminal summary."""
import json
from pathlib import Path

import numpy as np

from contest.cli import display, outputs
from contest.modeldir.ensemble import MANIFEST, load_ensemble, read_manifest
from contest.data.spec import spec_of_manifest
from contest.fileio import atomic_open
from contest.inspect import sources
from contest.inspect.features import training_index

IMAGE_FILES = {"overview": "image-overview.png", "maps": "image-feature-maps.png",
               "filters": "image-filters.png", "json": "image.json"}
SET_FILES = {"mistakes": "set-mistakes.png", "confusions": "set-confusions.png",
             "calibration": "set-calibration.png", "agreement": "set-agreement.png",
             "pca": "set-pca.png", "json": "set.json"}
LABEL_FILES = {"gallery": "labels-suspects.png", "csv": "labels-suspects.csv"}


def progress_bar(desc):
    """A maker of tqdm bars (stderr) that appear only when the work takes over a second."""
    from tqdm import tqdm

    return lambda total: tqdm(total=total, desc=desc, unit="img", delay=1.0, leave=False)


def checked_outputs(out_dir, names, inputs, models, data_dir):
    """The output paths of `names` under out_dir, refused before any work if unusable."""
    paths = {key: Path(out_dir) / name for key, name in names.items()}
    outputs.check_outputs([outputs.output("--out", p) for p in paths.values()],
                          inputs=inputs, model_dirs=[models, data_dir])
    return paths


def _write_json(obj):
    def write(tmp):
        with atomic_open(tmp, "w", encoding="utf-8") as handle:
            json.dump(obj, handle, separators=(",", ":"))
    return write


def load(models):
    manifest = read_manifest(models)
    spec = spec_of_manifest(manifest, Path(models) / MANIFEST)
    return load_ensemble(models, manifest), spec


def run_inspect_image(models, out_dir, index=0, image_path=None, data_dir=None, k=8,
                      cache_dir=None):
    from contest.inspect import plots_image
    from contest.inspect.payload import image_payload
    from contest.inspect.views import image_view

    paths = checked_outputs(out_dir, IMAGE_FILES, [image_path], models, data_dir)
    ensemble, spec = load(models)
    image, true, what = sources.one_image(image_path, index, data_dir, ensemble.manifest, spec)
    train, index_info = None, None
    if k > 0:
        images, labels, _ = sources.training_set(data_dir, ensemble.manifest, spec)
        index_info = training_index(ensemble, images, labels, cache_dir,
                                    progress_bar("training-image features (once)"))
        train = (images, labels)
    view = image_view(ensemble, image, None if index_info is None else index_info[0], k)
    members = list(range(len(ensemble.models)))
    title = f"{what}: predicted {spec.label(int(view.analysis.proba.argmax()))}" + (
        "" if true is None else f", true {spec.label(true)}")
    outputs.write_all([
        (paths["overview"], lambda t: plots_image.plot_overview(
            t, image, view.analysis, spec, title, view.neighbours, train)),
        (paths["maps"], lambda t: plots_image.plot_feature_maps(t, view.maps, title)),
        (paths["filters"], lambda t: plots_image.plot_filters(t, view.filters, title)),
        (paths["json"], _write_json(image_payload(view, image, spec, train, members)))])
    return image_text(view, image, true, what, spec, train, paths)


def image_text(view, image, true, what, spec, train, paths):
    a = view.analysis
    predicted = int(a.proba.argmax())
    lines = [what, display.digit_art(image),
             f"prediction: {spec.label(predicted)} (confidence {a.proba[predicted]:.4f})"
             + ("" if true is None else f"; true label {spec.label(true)}")]
    for m, p in enumerate(a.member_proba):
        peak = np.unravel_index(int(a.saliency[m].argmax()), a.saliency[m].shape)
        lines.append(f"member {m}: {spec.label(int(p.argmax()))} ({p.max():.3f}), saliency "
                     f"peaks at row {peak[0]}, column {peak[1]}")
    if a.occlusion is not None:
        peak = np.unravel_index(int(a.occlusion[-1].argmax()), a.occlusion[-1].shape)
        lines.append(f"occlusion: hiding around row {peak[0]}, column {peak[1]} costs the "
                     f"ensemble {a.occlusion[-1].max():.3f} of its probability")
    if view.neighbours is not None:
        near = ", ".join(f"#{i} ({spec.label(int(train[1][i]))})" for i in view.neighbours[0])
        lines.append(f"nearest training images: {near}")
    lines.append("wrote " + ", ".join(str(p) for p in paths.values()))
    return "\n".join(lines)
