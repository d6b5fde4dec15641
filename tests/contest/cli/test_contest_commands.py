"""contest predict / predict-one / evaluate / score / export / --help on the session ensemble."""
import re

import numpy as np
import pytest
from PIL import Image

from contest_testutil import assert_refused, invoke

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def ok(args):
    result = invoke(args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", ["train-ensemble", "predict", "predict-one", "evaluate",
                                     "export"])
def test_every_command_has_help_with_defaults(command):
    text = ok([command, "--help"])
    assert "[default:" in text and re.match(r"Usage: \S+ " + command, text)


def test_top_level_help_lists_all_commands():
    text = ok(["--help"])
    for command in ("train-ensemble", "predict", "predict-one", "evaluate", "score", "export"):
        assert command in text


def test_train_help_names_presets_and_architectures():
    text = ok(["train-ensemble", "--help"])
    assert "default|fast|finetune|large" in text.replace("\n", "").replace(" ", "")
    assert "[a|b" in text


def test_train_help_describes_the_whole_default_augmentation():
    # it once said "rotation, shift, zoom" after the preset had gained shears, elastic
    # distortion, pixel corruptions and handwriting styles
    text = " ".join(ok(["train-ensemble", "--help"]).split())
    described = text[text.index("'default' (the default preset's:"):]
    described = described[:described.index(")")]
    for part in ("rotation", "shift", "zoom", "shear", "elastic distortion", "pixel corruptions",
                 "handwriting styles"):
        assert part in described, part


def test_export_predict_score_reproduces_evaluate(models, exported, tmp_path):
    images, labels = exported
    evaluated = re.search(r"ensemble accuracy: (.*)", ok(["evaluate", "--models", models])).group(1)
    ok(["predict", images, "--models", models, "-o", tmp_path / "sub.csv"])
    scored = re.search(r"^accuracy: (.*)", ok(["score", tmp_path / "sub.csv", "--labels", labels]))
    assert scored.group(1) == evaluated and evaluated.endswith("/200)")


def test_predict_writes_submission_probabilities_and_summary(models, exported, tmp_path):
    images, _ = exported
    text = ok(["predict", images, "--models", models, "-o", tmp_path / "s.txt", "--proba",
               tmp_path / "p.npy", "--low-confidence", "1"])
    proba = np.load(tmp_path / "p.npy")
    labels = np.array((tmp_path / "s.txt").read_text().split(), dtype=int)
    assert proba.shape == (200, 10) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(proba.argmax(axis=1), labels)
    assert "predicted 200 images with 2 members" in text
    assert f"mean confidence: {proba.max(axis=1).mean():.4f}" in text
    assert "low confidence (< 1): 200 images" in text
    assert re.search(r"^  0 [#.]{30} +%d$" % np.count_nonzero(labels == 0), text, re.M)


def test_kaggle_csv_input_and_format_option(models, exported, tmp_path, tiny_data):
    ok(["export", "--out", tmp_path / "test.csv", "--data-dir", tiny_data])
    ok(["predict", tmp_path / "test.csv", "--models", models, "-o", tmp_path / "a.txt"])
    ok(["predict", exported[0], "--models", models, "-o", tmp_path / "b.dat", "--format", "txt"])
    ok(["predict", exported[0], "--models", models, "-o", tmp_path / "c.txt", "--format", "csv"])
    assert (tmp_path / "a.txt").read_text() == (tmp_path / "b.dat").read_text()
    assert (tmp_path / "c.txt").read_text().startswith("ImageId,Label\n1,")


def test_predict_one_from_the_test_set(models, tiny_test, tmp_path):
    text = ok(["predict-one", "--models", models, "--index", 3, "--save-png", tmp_path / "o.png"])
    assert "test set #3" in text and f"true label: {tiny_test[1][3]}" in text
    assert re.search(r"prediction: \d  \(confidence 0\.\d{4}\)", text)
    assert len(re.search(r"top 3: (.*)", text).group(1).split(", ")) == 3
    assert re.search(r"member votes: #0 -> \d \(0\.\d{3}\), #1 -> \d", text)
    assert text.count("|\n") >= 14  # the digit drawn as 14 rows of terminal art
    assert (tmp_path / "o.png").read_bytes()[:8] == PNG_MAGIC


def test_predict_one_from_npy_and_png_files(models, tiny_test, tmp_path):
    images, labels = tiny_test
    np.save(tmp_path / "few.npy", images[:5])
    Image.fromarray(images[4]).save(tmp_path / "d.png")
    from_npy = ok(["predict-one", "--models", models, "--image", tmp_path / "few.npy",
                   "--index", 4, "--label", labels[4]])
    from_png = ok(["predict-one", "--models", models, "--image", tmp_path / "d.png"])
    assert f"true label: {labels[4]}" in from_npy and "true label" not in from_png
    prediction = re.compile(r"prediction: .*")
    assert prediction.search(from_npy).group() == prediction.search(from_png).group()


def test_predict_one_index_out_of_range(models):
    assert_refused(invoke(["predict-one", "--models", models, "--index", 200]), "out of range")


def test_evaluate_reports_members_confusion_and_mistakes(models, exported, tmp_path):
    text = ok(["evaluate", "--models", models, "--images", exported[0], "--labels", exported[1],
               "--report", tmp_path / "r.png"])
    correct = int(re.search(r"ensemble accuracy: .* \((\d+)/200\)", text).group(1))
    wrong = re.search(r"misclassified \((\d+)\): (.*)", text)
    assert int(wrong.group(1)) == 200 - correct
    assert len(wrong.group(2).split(", ")) == min(200 - correct, 200)
    rows = re.findall(r"^\s+\d(?:\s+\d+){10}$", text, re.M)
    assert len(rows) == 10 and sum(sum(map(int, r.split()[1:])) for r in rows) == 200
    assert re.search(r"^0 +\d+\.\d\d % \(\d+/200\)$", text, re.M)
    assert (tmp_path / "r.png").read_bytes()[:8] == PNG_MAGIC


def test_export_of_the_bundled_mnist(tmp_path):
    text = ok(["export", "--split", "train", "--limit", 5, "--out", tmp_path / "x.npy",
               "--labels", tmp_path / "y.npy"])
    assert "wrote 5 train images" in text
    assert np.load(tmp_path / "x.npy").shape == (5, 28, 28)
    assert np.load(tmp_path / "y.npy").tolist() == [5, 0, 4, 1, 9]
    ok(["export", "--limit", 3, "--out", tmp_path / "t.csv"])
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("pixel0,pixel1")
    assert len(lines[1].split(",")) == 784


def test_export_refuses_an_unknown_output_type(tmp_path):
    assert_refused(invoke(["export", "--out", tmp_path / "x.txt"]), "x.txt", [tmp_path / "x.txt"])


def test_help_texts_say_what_the_options_take():
    evaluate = " ".join(invoke(["evaluate", "--help"]).output.split())
    assert "shift, rotate, scale, shear, elastic, gaussian_noise" in evaluate
    export = " ".join(invoke(["export", "--help"]).output.split())
    assert "(default: the bundled MNIST)" in export and "trained on" not in export
