"""Every bad input to predict, predict-one, evaluate and score is refused with exit status 2,
one line naming the file and the problem, no traceback, and no output file."""
import json

import numpy as np
import pytest
from PIL import Image

import nnlib as nn
from contest.train.architectures import build_model
from contest.fileio import sha256_file
from contest_testutil import assert_refused, invoke

HEADER = ",".join(f"pixel{i}" for i in range(784))


def _save(path, array, **kwargs):
    np.save(path, array, **kwargs)
    return path


def _truncated(path):
    np.save(path, np.zeros((10, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:1000])
    return path


def _with_nan(value):
    array = np.zeros((2, 28, 28), np.float32)
    array[1, 3, 3] = value
    return array


IMAGE_CASES = {  # kind: (file name, writer, expected problem)
    "missing": ("missing.npy", None, "file not found"),
    "directory": ("dir.npy", lambda p: p.mkdir(), "is a directory"),
    "zero-bytes": ("empty.npy", lambda p: p.write_bytes(b""), "file is empty"),
    "truncated": ("cut.npy", _truncated, "truncated .npy"),
    "not-npy": ("junk.npy", lambda p: p.write_bytes(b"hello, not numpy"), "not a valid .npy"),
    "object-array": ("obj.npy", lambda p: _save(p, np.array([{"a": 1}], dtype=object),
                                                allow_pickle=True), "object (pickled)"),
    "wrong-image-size": ("small.npy", lambda p: _save(p, np.zeros((3, 27, 28), np.uint8)),
                         "wrong dimensions (3, 27, 28)"),
    "wrong-dims": ("4d.npy", lambda p: _save(p, np.zeros((3, 2, 28, 28), np.uint8)),
                   "wrong dimensions"),
    "strings": ("str.npy", lambda p: _save(p, np.array([["7"] * 784])), "non-numeric dtype"),
    "booleans": ("bool.npy", lambda p: _save(p, np.zeros((2, 28, 28), bool)), "non-numeric dtype"),
    "complex": ("c.npy", lambda p: _save(p, np.zeros((2, 28, 28), complex)), "non-numeric dtype"),
    "nan": ("nan.npy", lambda p: _save(p, _with_nan(np.nan)), "1 NaN or infinite"),
    "inf": ("inf.npy", lambda p: _save(p, _with_nan(np.inf)), "1 NaN or infinite"),
    "float-above-1": ("f255.npy", lambda p: _save(p, np.full((2, 28, 28), 255.0)),
                      "must lie in [0, 1]"),
    "int-above-255": ("i300.npy", lambda p: _save(p, np.full((2, 28, 28), 300, np.int16)),
                      "must lie in 0..255"),
    "negative-int": ("neg.npy", lambda p: _save(p, np.full((2, 28, 28), -1, np.int8)),
                     "must lie in 0..255"),
    "empty-set": ("none.npy", lambda p: _save(p, np.zeros((0, 28, 28), np.uint8)), "empty"),
    "csv-header": ("h.csv", lambda p: p.write_text("a,b\n1,2\n"), "Kaggle CSV header"),
    "csv-text": ("t.csv", lambda p: p.write_text(HEADER + "\n" + ",".join(["x"] * 784) + "\n"),
                 "bad CSV data"),
    "csv-columns": ("c.csv", lambda p: p.write_text(HEADER + "\n" + ",".join(["0"] * 783) + "\n"),
                    "784 columns"),
    "csv-ragged": ("r.csv", lambda p: p.write_text(HEADER + "\n" + ",".join(["0"] * 784) + "\n"
                                                   + ",".join(["0"] * 100) + "\n"), "bad CSV data"),
    "csv-empty-set": ("e.csv", lambda p: p.write_text(HEADER + "\n"), "empty"),
    "png-blank": ("big.png", lambda p: Image.fromarray(np.zeros((20, 30), np.uint8)).save(p),
                  "blank image: no ink"),
    "png-corrupt": ("bad.png", lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\nbroken"),
                    "not a readable picture"),
    "unsupported-type": ("x.xyz", lambda p: p.write_bytes(b"BM...."), "unsupported file type"),
}


def make(tmp_path, cases, kind):
    name, writer, problem = cases[kind]
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    if writer is not None:
        writer(path)
    return path, problem


def command_args(command, models, bad, out, exported):
    images, labels = exported
    if command == "predict":
        return ["predict", bad, "--models", models, "-o", out / "s.txt", "--proba", out / "p.npy"]
    if command == "predict-one":
        return ["predict-one", "--models", models, "--image", bad, "--save-png", out / "o.png"]
    return ["evaluate", "--models", models, "--images", bad, "--labels", labels,
            "--report", out / "r.png"]


@pytest.mark.parametrize("command", ["predict", "predict-one", "evaluate"])
@pytest.mark.parametrize("kind", sorted(IMAGE_CASES))
def test_bad_images_are_refused(command, kind, models, exported, tmp_path):
    bad, problem = make(tmp_path, IMAGE_CASES, kind)
    out = tmp_path / "out"
    result = invoke(command_args(command, models, bad, out, exported))
    assert_refused(result, bad, [out])
    assert problem in result.output


LABEL_CASES = {
    "missing": ("missing.npy", None, "file not found"),
    "directory": ("dir.npy", lambda p: p.mkdir(), "is a directory"),
    "zero-bytes": ("empty.npy", lambda p: p.write_bytes(b""), "file is empty"),
    "truncated": ("cut.npy", _truncated, "truncated .npy"),
    "object-array": ("obj.npy", lambda p: _save(p, np.array([None, 1], dtype=object),
                                                allow_pickle=True), "object (pickled)"),
    "float-labels": ("f.npy", lambda p: _save(p, np.zeros(200)), "must be integers"),
    "negative": ("neg.npy", lambda p: _save(p, np.full(200, -1)), "found -1..-1"),
    "wrong-dims": ("2d.npy", lambda p: _save(p, np.zeros((200, 2), int)), "wrong dimensions"),
    "nan": ("nan.npy", lambda p: _save(p, np.full(200, np.nan)), "must be integers"),
    "empty-set": ("none.npy", lambda p: _save(p, np.zeros(0, int)), "empty"),
    "wrong-count": ("few.npy", lambda p: _save(p, np.zeros(150, int)), "150"),
}


@pytest.mark.parametrize("command", ["evaluate", "score"])
@pytest.mark.parametrize("kind", sorted(LABEL_CASES))
def test_bad_labels_are_refused(command, kind, models, exported, tmp_path):
    bad, problem = make(tmp_path, LABEL_CASES, kind)
    out = tmp_path / "out"
    if command == "evaluate":
        args = ["evaluate", "--models", models, "--images", exported[0], "--labels", bad,
                "--report", out / "r.png"]
    else:
        (tmp_path / "s.txt").write_text("1\n" * 200)
        args = ["score", tmp_path / "s.txt", "--labels", bad]
    result = invoke(args)
    named = tmp_path / "s.txt" if (command, kind) == ("score", "wrong-count") else bad
    assert_refused(result, named, [out])
    assert problem in result.output


def test_evaluate_refuses_labels_beyond_the_ensembles_classes(models, exported, tmp_path):
    """score knows no ensemble and takes any class number; evaluate knows the classes."""
    bad, problem = tmp_path / "big.npy", "must lie in 0..9"
    _save(bad, np.full(200, 10))
    out = tmp_path / "out"
    result = invoke(["evaluate", "--models", models, "--images", exported[0], "--labels", bad,
                     "--report", out / "r.png"])
    assert_refused(result, bad, [out])
    assert problem in result.output


SUBMISSION_CASES = {
    "missing": ("missing.txt", None, "file not found"),
    "directory": ("dir.txt", lambda p: p.mkdir(), "is a directory"),
    "zero-bytes": ("empty.txt", lambda p: p.write_bytes(b""), "file is empty"),
    "not-a-digit": ("x.txt", lambda p: p.write_text("1\n" * 50 + "seven\n"), "line 51"),
    "bad-image-id": ("x.csv", lambda p: p.write_text("ImageId,Label\n1,1\n3,1\n"),
                     "ImageId '3', expected 2"),
    "binary": ("b.txt", lambda p: p.write_bytes(b"\xff\xfe\x00\x81"), "not a text"),
    "wrong-count": ("short.txt", lambda p: p.write_text("1\n" * 199), "199 predictions for 200"),
    "blank-lines-only": ("blank.txt", lambda p: p.write_text("\n\n\n"), "empty"),
}


@pytest.mark.parametrize("kind", sorted(SUBMISSION_CASES))
def test_bad_submissions_are_refused(kind, exported, tmp_path):
    bad, problem = make(tmp_path, SUBMISSION_CASES, kind)
    result = invoke(["score", bad, "--labels", exported[1]])
    assert_refused(result, bad)
    assert problem in result.output


def _replace_member(models, model, arch):
    path = models / "member-1.npz"
    nn.save(model, path, metadata={"arch": arch})
    _update_sha(models, path)


def _update_sha(models, path):
    manifest = json.loads((models / "ensemble.json").read_text())
    manifest["members"][1]["sha256"] = sha256_file(path)
    (models / "ensemble.json").write_text(json.dumps(manifest))


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate_member(models):
    path = models / "member-1.npz"
    path.write_bytes(path.read_bytes()[:5000])
    _update_sha(models, path)


rng = np.random.default_rng(0)
MODEL_CASES = {  # kind: (mutation of a copied model directory, named file, expected problem)
    "missing-member": (lambda m: (m / "member-1.npz").unlink(), "member-1.npz", "is missing"),
    "tampered-member": (lambda m: _flip_byte(m / "member-1.npz"), "member-1.npz",
                        "sha256 mismatch"),
    "wrong-input-shape": (lambda m: _replace_member(m, nn.Sequential(
        [nn.Flatten(), nn.Dense(100, 10, rng=rng)]), "a"), "member-1.npz", "incompatible member"),
    "other-architecture": (lambda m: _replace_member(m, build_model("b", rng), "b"),
                           "member-1.npz", "architecture 'b'"),
    "unreadable-member": (_truncate_member, "member-1.npz", "cannot load member"),
    "no-manifest": (lambda m: (m / "ensemble.json").unlink(), "ensemble.json", "missing"),
    "manifest-not-json": (lambda m: (m / "ensemble.json").write_text("{oops"), "ensemble.json",
                          "not valid JSON"),
    "manifest-no-members": (lambda m: (m / "ensemble.json").write_text(json.dumps(
        {**json.loads((m / "ensemble.json").read_text()), "members": []})), "ensemble.json",
        "no members"),
}


@pytest.mark.parametrize("command", ["predict", "predict-one", "evaluate"])
@pytest.mark.parametrize("kind", sorted(MODEL_CASES))
def test_bad_model_directories_are_refused(command, kind, models_copy, exported, tmp_path):
    mutate, named, problem = MODEL_CASES[kind]
    mutate(models_copy)
    out = tmp_path / "out"
    args = command_args(command, models_copy, exported[0], out, exported)
    if command == "predict-one":
        args = args[:args.index("--image")] + args[args.index("--image") + 2:]
    result = invoke(args)
    assert_refused(result, models_copy / named, [out])
    assert problem in result.output


@pytest.mark.parametrize("command", ["predict", "predict-one", "evaluate"])
def test_missing_model_directory_and_a_file_instead(command, exported, tmp_path):
    for models, problem in ((tmp_path / "nowhere", "model directory not found"),
                            (exported[1], "is not a directory")):
        args = command_args(command, models, exported[0], tmp_path / "out", exported)
        result = invoke(args)
        assert_refused(result, models, [tmp_path / "out"])
        assert problem in result.output


def test_output_paths_that_are_directories_or_wrong_type(models, exported, tmp_path):
    (tmp_path / "d").mkdir()
    assert_refused(invoke(["predict", exported[0], "--models", models, "-o", tmp_path / "d"]),
                   "output path is a directory")
    assert_refused(invoke(["predict", exported[0], "--models", models, "-o", tmp_path / "s.txt",
                           "--proba", tmp_path / "p.txt"]), "p.txt", [tmp_path / "s.txt"])


def test_a_submission_named_like_an_array_is_refused(models, exported, tmp_path):
    # it was written as a text submission under the .npy name
    result = invoke(["predict", exported[0], "--models", models, "-o", tmp_path / "out.npy"])
    assert_refused(result, "-o/--output: a submission is text", [tmp_path / "out.npy"])
    assert "--proba FILE.npy" in result.output
    result = invoke(["predict", exported[0], "--models", models, "-o", tmp_path / "out.npy",
                     "--format", "txt"])                     # asked for: written
    assert result.exit_code == 0 and (tmp_path / "out.npy").read_text().count("\n") == 200
