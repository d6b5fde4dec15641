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
from contest.cli.run import one_image
from contest.inspect.training import training_neighbours

IMAGE_FILES = {"overview": "image-overview.png", "filters": "image-filters.png",
               "json": "image.json"}   # and image-feature-maps-mK.png for every member K
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


def _image_inputs(models, manifest, spec, index, image_path, data_dir):
    """(ensemble, (image, true label, description)): the image file is read (gzip, md5 free
    the GIL) while the members load."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        image_of = pool.submit(one_image, image_path, index, data_dir, manifest, spec)
        ensemble = load_ensemble(models, manifest)
        return ensemble, image_of.result()


def _image_writes(paths, view, image, spec, title, train):
    from contest.inspect import plots_image
    from contest.inspect.payload import image_payload

    members = list(range(len(view.maps)))
    writes = [(paths["overview"], lambda t: plots_image.plot_overview(
                  t, image, view.analysis, spec, title, view.neighbours, train)),
              (paths["filters"], lambda t: plots_image.plot_filters(t, view.filters, title)),
              (paths["json"], _write_json(image_payload(view, image, spec, train, members)))]
    for m in members:
        writes.append((paths[f"maps{m}"], lambda t, m=m: plots_image.plot_feature_maps(
            t, view.maps[m], title, m)))
    return writes


def run_inspect_image(models, out_dir, index=0, image_path=None, data_dir=None, k=8,
                      cache_dir=None):
    from contest.inspect.views import image_view

    manifest = read_manifest(models)
    spec = spec_of_manifest(manifest, Path(models) / MANIFEST)
    names = {**IMAGE_FILES, **{f"maps{m}": f"image-feature-maps-m{m}.png"
                               for m in range(len(manifest["members"]))}}
    paths = checked_outputs(out_dir, names, [image_path], models, data_dir)
    ensemble, (image, true, what) = _image_inputs(models, manifest, spec, index, image_path,
                                                  data_dir)
    index_of_train, train = training_neighbours(
        ensemble, data_dir, cache_dir, progress_bar("training-image features (once)")) \
        if k else (None, None)
    view = image_view(ensemble, image, index_of_train, k)
    title = f"{what}: predicted {spec.label(int(view.analysis.proba.argmax()))}" + (
        "" if true is None else f", true {spec.label(true)}")
    outputs.write_all(_image_writes(paths, view, image, spec, title, train))
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
