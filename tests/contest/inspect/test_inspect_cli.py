"""`contest inspect image|set|labels` on a tiny ensemble trained once per test run on 500 MNIST
images, one of which carries a wrong label on purpose."""
import csv
import json

import numpy as np
import pytest

from contest.data import datasets
from contest_testutil import assert_refused, invoke, write_idx

FLIPPED = 37          # a clear 0 among the first 500 training images, labelled 1 below
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="session")
def flipped_data(tmp_path_factory):
    directory = tmp_path_factory.mktemp("flipped-mnist")
    images, labels = datasets.load_split("train")
    images, labels = images[:500], labels[:500].copy()
    assert labels[FLIPPED] == 0
    labels[FLIPPED] = 1
    test_images, test_labels = datasets.load_split("test")
    for kind, (x, y) in (("train", (images, labels)), ("test", (test_images[:200],
                                                                test_labels[:200]))):
        image_stem, label_stem = datasets.FILES[kind]
        write_idx(directory / image_stem, x)
        write_idx(directory / label_stem, y, compress=False)
    return directory


@pytest.fixture(scope="session")
def inspect_models(tmp_path_factory, flipped_data):
    out = tmp_path_factory.mktemp("inspect-ensemble") / "models"
    result = invoke(["train-ensemble", "--n", "2", "--preset", "fast", "--epochs", "3",
                     "--seed", "0", "--out", out, "--data-dir", flipped_data, "--jobs", "1",
                     "--quiet"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def cache_env(tmp_path):
    return {"CONTEST_CACHE_DIR": str(tmp_path / "cache")}


def test_image_view_writes_every_picture_and_the_json(inspect_models, tmp_path, cache_env):
    out = tmp_path / "out"
    result = invoke(["inspect", "image", "--models", inspect_models, "--index", "3", "--out", out],
                    env=cache_env)
    assert result.exit_code == 0, result.output
    for name in ("image-overview.png", "image-feature-maps-m0.png", "image-feature-maps-m1.png",
                 "image-filters.png"):
        assert (out / name).read_bytes()[:8] == PNG
    payload = json.loads((out / "image.json").read_text())
    assert len(payload["members"]) == 2 and len(payload["neighbours"]) == 8
    assert payload["members"][0]["saliency"]["shape"] == [28, 28]
    assert [layer["name"] for layer in payload["feature_maps"][0]["layers"]][:2] == \
        ["0:Conv2D", "1:ReLU"]
    assert "nearest training images: #" in result.output
    assert "saliency peaks at row" in result.output
    cached = sorted(p.name.split("-files-")[0] for p in (tmp_path / "cache").iterdir())
    assert cached == ["train-images", "train-index"]     # keyed by the training files
    again = invoke(["inspect", "image", "--models", inspect_models, "--index", "3", "--out", out],
                   env=cache_env)
    assert again.output == result.output                 # the cached index: the same answer


def test_the_cache_key_follows_the_training_files(inspect_models, flipped_data, tmp_path):
    import os
    import shutil

    from contest.modeldir.ensemble import load_ensemble
    from contest.inspect.training import files_key, training_files

    ensemble = load_ensemble(inspect_models)
    copy = tmp_path / "data"
    shutil.copytree(flipped_data, copy)
    files = training_files(copy, ensemble.manifest)
    assert [f.parent for f in files] == [copy, copy]
    before = files_key(ensemble, files)
    assert files_key(ensemble, files) == before
    os.utime(files[1], ns=(0, files[1].stat().st_mtime_ns + 10**9))   # labels edited
    assert files_key(ensemble, files) != before


def test_image_view_of_a_file_without_neighbours(inspect_models, tmp_path, cache_env):
    images, _ = datasets.load_split("test")
    np.save(tmp_path / "one.npy", images[7])
    out = tmp_path / "out"
    result = invoke(["inspect", "image", "--models", inspect_models, "--image",
                     tmp_path / "one.npy", "--neighbours", "0", "--out", out], env=cache_env)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "image.json").read_text())["neighbours"] is None
    assert str(tmp_path / "one.npy") in result.output
    assert not (tmp_path / "cache").exists()       # no neighbours: no training features


def test_set_view(inspect_models, tmp_path):
    out = tmp_path / "out"
    result = invoke(["inspect", "set", "--models", inspect_models, "--out", out])
    assert result.exit_code == 0, result.output
    for name in ("mistakes", "confusions", "calibration", "agreement", "pca"):
        assert (out / f"set-{name}.png").read_bytes()[:8] == PNG
    summary = json.loads((out / "set.json").read_text())
    assert summary["images"] == 200
    assert set(summary["ece"]) == {"ensemble", "member 0", "member 1"}
    assert sum(a["images"] for a in summary["agreement"]) == 200
    assert "expected calibration error (ECE): ensemble" in result.output


def test_label_check_finds_the_mislabelled_training_image(inspect_models, tmp_path, cache_env):
    out = tmp_path / "out"
    result = invoke(["inspect", "labels", "--models", inspect_models, "--out", out],
                    env=cache_env)
    assert result.exit_code == 0, result.output
    with open(out / "labels-suspects.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    first = [int(row["index"]) for row in rows[:3]]
    assert FLIPPED in first, rows[:5]
    row = rows[first.index(FLIPPED)]
    assert (row["label"], row["predicted"]) == ("1", "0")
    assert (out / "labels-suspects.png").read_bytes()[:8] == PNG


def test_bad_inputs_are_refused_before_any_work(inspect_models, tmp_path, cache_env):
    result = invoke(["inspect", "image", "--models", inspect_models, "--index", "5000",
                     "--out", tmp_path / "out"], env=cache_env)
    assert_refused(result, "--index 5000 out of range", [tmp_path / "out" / "image.json"])
    result = invoke(["inspect", "set", "--models", inspect_models, "--out",
                     inspect_models / "views"])
    assert_refused(result, "model directory", [inspect_models / "views"])
    result = invoke(["inspect", "set", "--models", inspect_models, "--images",
                     tmp_path / "missing.npy", "--labels", tmp_path / "l.npy",
                     "--out", tmp_path / "o"])
    assert_refused(result, "missing.npy", [tmp_path / "o"])
