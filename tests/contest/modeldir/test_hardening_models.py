"""A model directory edited by hand or by an attacker: every prediction-relevant manifest field is
typed and cross-checked, NaN/inf members and symlinked members are refused, one line each."""
import json
import shutil

import numpy as np
import pytest

import nnlib as nn
from contest.fileio import sha256_file
from contest_testutil import assert_refused, invoke


def _edit(models, change):
    path = models / "ensemble.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _predict(models, exported, tmp_path):
    out = tmp_path / "s.txt"
    return invoke(["predict", exported[0], "--models", models, "-o", out]), out


def _set(key, value):
    return lambda m: m.__setitem__(key, value)


def _member(key, value):
    return lambda m: m["members"][0].__setitem__(key, value)


def _data_dir(m):
    m["data"]["dir"] = "/somewhere/else"


EDITS = {  # name: (change to the manifest, words of the one-line error)
    "arch-int": (_set("arch", 5), "arch: expected an architecture name, got 5"),
    "arch-unknown": (_set("arch", "zz"), "arch:"),
    "file-null": (_member("file", None), "members[0].file: expected a member file name"),
    "file-path": (_member("file", "../member-0.npz"), "members[0].file"),
    "sha-int": (_member("sha256", 12), "members[0].sha256"),
    "index-str": (_member("index", "0"), "members[0].index"),
    "normalisation-list": (_set("normalisation", ["unit"]), "normalisation: unknown"),
    "listed-five-times": (lambda m: m.__setitem__("members", [m["members"][0]] * 5),
                          "listed twice"),
    "member-dropped": (lambda m: m["members"].pop(), "n: says 2 members, the list holds 1"),
    "normalisation-edited": (_set("normalisation", "standardise"), "member normalisation"),
    "data-dir-edited": (_data_dir, "trained on data.dir"),
    "data-not-object": (_set("data", 3), "data: expected an object"),
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_edited_manifest_is_refused(name, models_copy, exported, tmp_path):
    change, words = EDITS[name]
    _edit(models_copy, change)
    result, out = _predict(models_copy, exported, tmp_path)
    assert_refused(result, words, [out])


def test_manifest_nested_100000_deep_is_refused(models_copy, exported, tmp_path):
    (models_copy / "ensemble.json").write_text("[" * 100000 + "]" * 100000)
    result, out = _predict(models_copy, exported, tmp_path)
    assert_refused(result, "nested 100000 levels deep", [out])


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_member_with_non_finite_weights_is_refused(value, models_copy, exported, tmp_path):
    path = models_copy / "member-1.npz"
    model, meta = nn.load_with_metadata(path)
    model.parameters()[0].value[0] = value
    nn.save(model, path, metadata=meta)
    _edit(models_copy, lambda m: m["members"][1].__setitem__("sha256", sha256_file(path)))
    result, out = _predict(models_copy, exported, tmp_path)
    assert_refused(result, "member-1.npz: ", [out])
    assert "NaN or infinite" in result.output


def test_member_symlink_out_of_the_model_directory_is_refused(models_copy, exported, tmp_path):
    outside = tmp_path / "elsewhere.npz"
    shutil.move(models_copy / "member-1.npz", outside)
    (models_copy / "member-1.npz").symlink_to(outside)
    result, out = _predict(models_copy, exported, tmp_path)
    assert_refused(result, "member-1.npz: member file is a symbolic link", [out])
