"""train-ensemble --data on the user's own data: bad data is refused in one line naming the file
before anything is written, and a colour (3-channel) ensemble goes end to end through
train-ensemble, predict, predict-one --save-png (in colour) and evaluate."""
import json

import numpy as np
import pytest
from PIL import Image

from contest_testutil import assert_refused, invoke

TINY = ["--n", "2", "--preset", "fast", "--epochs", "1", "--jobs", "1", "--seed", "1", "-q"]
CSV_HEADER = "label," + ",".join(f"pixel{i}" for i in range(64))


def rgb_task(n, seed):
    """Synthetic 12x12 RGB images whose class (0 blue, 1 green, 2 red: the names' sorted order,
    as an image folder numbers them) is the colour of a square."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    images = rng.integers(0, 60, (n, 12, 12, 3), dtype=np.uint8)
    for c in range(3):
        images[labels == c, 3:9, 3:9, 2 - c] = 230
    return images, labels


def _save_folder(root, images, labels, names=("a", "b", "c")):
    for k, (image, label) in enumerate(zip(images, labels)):
        folder = root / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{k}.png")
    return root


def mixed_sizes(tmp):
    root = _save_folder(tmp / "mixed", *rgb_task(6, 0))
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(root / "b" / "odd.png")
    return root, root / "b" / "odd.png", "all images must have one size"


def unreadable(tmp):
    root = _save_folder(tmp / "broken", *rgb_task(6, 0))
    (root / "a" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root, root / "a" / "bad.png", "unreadable image"


def empty_class(tmp):
    root = _save_folder(tmp / "empty", *rgb_task(6, 0))
    (root / "d").mkdir()
    return root, root / "d", "class folder with no images"


def one_class(tmp):
    images, _ = rgb_task(6, 0)
    np.savez(tmp / "one.npz", x=images, y=np.zeros(6, np.int64))
    return tmp / "one.npz", tmp / "one.npz", "one class only"


def csv_text_cell(tmp):
    rows = [CSV_HEADER, "1," + ",".join(["0"] * 64), "2," + ",".join(["0"] * 63 + ["x7"])]
    (tmp / "t.csv").write_text("\n".join(rows) + "\n")
    return tmp / "t.csv", tmp / "t.csv", "line 3, column 65: non-numeric cell 'x7'"


def csv_ragged(tmp):
    rows = [CSV_HEADER, "1," + ",".join(["0"] * 64), "2," + ",".join(["0"] * 60)]
    (tmp / "r.csv").write_text("\n".join(rows) + "\n")
    return tmp / "r.csv", tmp / "r.csv", "line 3 has 61 cells, expected 65 columns"


def float_labels(tmp):
    images, _ = rgb_task(6, 0)
    np.savez(tmp / "f.npz", x=images, y=np.array([0, 1, 2, 0.5, 1, 2]))
    return tmp / "f.npz", tmp / "f.npz", "labels must be integers"


def unknown_file(tmp):
    (tmp / "data.xlsx").write_bytes(b"PK")
    return tmp / "data.xlsx", tmp / "data.xlsx", "unrecognised data file type"


def cifar_truncated(tmp):
    (tmp / "data_batch_1.bin").write_bytes(bytes(3073 + 5))
    return tmp, tmp / "data_batch_1.bin", "not a whole number of CIFAR-10 records"


BAD_DATA = {f.__name__: f for f in (mixed_sizes, unreadable, empty_class, one_class,
                                     csv_text_cell, csv_ragged, float_labels, unknown_file,
                                     cifar_truncated)}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_training_data_is_refused_in_one_line(case, tmp_path):
    data, named, problem = BAD_DATA[case](tmp_path)
    out = tmp_path / "models"
    result = invoke(["train-ensemble", *TINY, "--data", data, "--out", out])
    assert_refused(result, named, [out])
    assert problem in result.output


def _rgb_npz(path, n, seed):
    np.savez(path, x=rgb_task(n, seed)[0], y=rgb_task(n, seed)[1])
    return path


@pytest.mark.parametrize("test_images, problem", [
    (np.zeros((6, 12, 12), np.uint8), "test images are 12x12, the training images 12x12x3"),
    (np.zeros((6, 16, 16, 3), np.uint8), "test images are 16x16x3, the training images 12x12x3"),
])
def test_test_set_of_another_size_or_channels_is_refused(tmp_path, test_images, problem):
    np.savez(tmp_path / "test.npz", x=test_images, y=np.arange(6) % 3)
    out = tmp_path / "models"
    result = invoke(["train-ensemble", *TINY, "--data", _rgb_npz(tmp_path / "train.npz", 30, 0),
                     "--test", tmp_path / "test.npz", "--out", out])
    assert_refused(result, tmp_path / "test.npz", [out])
    assert problem in result.output


def test_data_and_data_dir_together_are_refused(tmp_path, tiny_data):
    result = invoke(["train-ensemble", *TINY, "--data", _rgb_npz(tmp_path / "t.npz", 30, 0),
                     "--data-dir", tiny_data, "--out", tmp_path / "m"])
    assert_refused(result, "--data-dir", [tmp_path / "m"])


@pytest.fixture(scope="module")
def colour_ensemble(tmp_path_factory):
    """A 2-member ensemble trained on a tiny synthetic RGB task from an image folder."""
    tmp = tmp_path_factory.mktemp("rgb")
    _save_folder(tmp / "train", *rgb_task(150, 1), names=("blue", "green", "red"))
    _rgb_npz(tmp / "test.npz", 30, 2)
    result = invoke(["train-ensemble", "--n", "2", "--preset", "fast", "--epochs", "2",
                     "--jobs", "1", "--data", tmp / "train", "--test", tmp / "test.npz",
                     "--out", tmp / "models"])
    assert result.exit_code == 0, result.output
    return tmp, result.output


def test_colour_ensemble_records_its_spec_and_learns(colour_ensemble):
    tmp, output = colour_ensemble
    assert "image folder" in output and "12x12x3 colour images, 3 classes (blue, green, red)" \
        in output
    manifest = json.loads((tmp / "models" / "ensemble.json").read_text())
    assert manifest["input"] == {"channels": 3, "height": 12, "width": 12, "classes": 3,
                                 "class_names": ["blue", "green", "red"]}
    assert manifest["test_accuracy"] >= 0.9  # the task is easy: a learning ensemble gets it


def test_colour_predict_predict_one_and_evaluate(colour_ensemble, tmp_path):
    tmp, _ = colour_ensemble
    images, labels = rgb_task(30, 2)
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", labels)
    result = invoke(["predict", tmp_path / "x.npy", "--models", tmp / "models",
                     "-o", tmp_path / "s.txt"])
    assert result.exit_code == 0, result.output
    assert "0 blue" in result.output and "2 red" in result.output
    predicted = np.loadtxt(tmp_path / "s.txt", dtype=int)
    assert np.mean(predicted == labels) >= 0.9
    result = invoke(["evaluate", "--models", tmp / "models", "--images", tmp_path / "x.npy",
                     "--labels", tmp_path / "y.npy"])
    assert result.exit_code == 0, result.output
    assert "classes: 0 blue, 1 green, 2 red" in result.output
    result = invoke(["evaluate", "--models", tmp / "models"])  # the --test set it was trained with
    assert result.exit_code == 0 and "test.npz (30 images)" in result.output, result.output


def test_colour_predict_one_saves_a_colour_png(colour_ensemble, tmp_path):
    tmp, _ = colour_ensemble
    result = invoke(["predict-one", "--models", tmp / "models", "--index", "2",
                     "--save-png", tmp_path / "one.png"])
    assert result.exit_code == 0, result.output
    assert "true label: 2 red" in result.output
    picture = np.asarray(Image.open(tmp_path / "one.png").convert("RGB")).astype(int)
    image_half = picture[:, :picture.shape[1] // 2]  # the bar chart (orange bar) is on the right
    red = (image_half[..., 0] - image_half[..., 1:].max(axis=2)) > 100
    assert red.sum() > 100  # the red square is drawn in colour, not in grey


def test_grey_image_for_a_colour_ensemble_is_refused_naming_both_shapes(colour_ensemble,
                                                                       tmp_path):
    tmp, _ = colour_ensemble
    np.save(tmp_path / "grey.npy", np.zeros((4, 28, 28), np.uint8))
    result = invoke(["predict", tmp_path / "grey.npy", "--models", tmp / "models",
                     "-o", tmp_path / "s.txt"])
    assert_refused(result, tmp_path / "grey.npy", [tmp_path / "s.txt"])
    assert "28x28 images" in result.output and "takes 12x12x3 images" in result.output


def test_kaggle_loop_train_csv_gives_the_ensemble_the_idx_files_give(tmp_path, tiny_data,
                                                                      models):
    """export --format csv, then train-ensemble --data train.csv: the same images and labels,
    so the same members as the session's ensemble trained on the IDX directory."""
    import nnlib as nn
    from contest_testutil import TRAIN_ARGS

    result = invoke(["export", "--split", "train", "--format", "csv", "--out",
                     tmp_path / "train.csv", "--data-dir", tiny_data])
    assert result.exit_code == 0 and "with their labels" in result.output, result.output
    assert (tmp_path / "train.csv").read_text().startswith("label,pixel0,pixel1,")
    result = invoke(["train-ensemble", *TRAIN_ARGS, "--jobs", "1", "--data",
                     tmp_path / "train.csv", "--out", tmp_path / "m"])
    assert result.exit_code == 0, result.output
    assert "Kaggle CSV" in result.output and "no test set (validation only)" in result.output
    manifest = json.loads((tmp_path / "m" / "ensemble.json").read_text())
    assert manifest["input"]["classes"] == 10 and "test_accuracy" not in manifest
    for k in range(2):
        ours = nn.load(tmp_path / "m" / f"member-{k}.npz").state_dict()
        for name, value in nn.load(models / f"member-{k}.npz").state_dict().items():
            assert np.array_equal(ours[name], value), (k, name)


def test_fashion_class_names_are_printed(tmp_path, models, exported):
    """An MNIST-shaped ensemble given names prints them (Fashion-MNIST prints Sneaker)."""
    manifest = json.loads((models / "ensemble.json").read_text())
    manifest["input"] = {"channels": 1, "height": 28, "width": 28, "classes": 10,
                         "class_names": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]}
    copy = tmp_path / "named"
    copy.mkdir()
    for member in models.glob("member-*.npz"):
        (copy / member.name).write_bytes(member.read_bytes())
    (copy / "ensemble.json").write_text(json.dumps(manifest))
    result = invoke(["predict-one", "--models", copy, "--image", exported[0], "--index", "0"])
    assert result.exit_code == 0, result.output
    assert "prediction: 7 Sneaker" in result.output


def test_python_api_predicts_a_colour_images_file_as_the_cli_does(colour_ensemble, tmp_path):
    # the API read files with MNIST's spec (a 12x12x3 file was refused), then handed its
    # (N, C, H, W) pixels on as if they were contest's (N, H, W, C) colour layout
    from contest import Ensemble

    tmp, _ = colour_ensemble
    images, labels = rgb_task(30, 2)
    np.save(tmp_path / "x.npy", images)
    result = invoke(["predict", tmp_path / "x.npy", "--models", tmp / "models",
                     "-o", tmp_path / "s.txt"])
    assert result.exit_code == 0, result.output
    ensemble = Ensemble.load(tmp / "models")
    np.testing.assert_array_equal(ensemble.predict(tmp_path / "x.npy"),
                                  np.loadtxt(tmp_path / "s.txt", dtype=int))


def test_colour_ensemble_adapts_to_its_contest_images(colour_ensemble, tmp_path):
    """contest adapt takes the ensemble's own input spec and data (an image folder, 3 classes),
    not MNIST's: class counts per stage have 3 entries, and the adapted ensemble still predicts."""
    tmp, _ = colour_ensemble
    images, labels = rgb_task(30, 3)
    np.save(tmp_path / "contest.npy", images)
    result = invoke(["adapt", "--models", tmp / "models", "--images", tmp_path / "contest.npy",
                     "--out", tmp_path / "adapted", "--rounds", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "adapted" / "ensemble.json").read_text())
    assert manifest["input"]["classes"] == 3
    stages = manifest["adapted"]["stages"]
    assert all(len(stage["classes_after"]) == 3 for stage in stages if "classes_after" in stage)
    result = invoke(["predict", tmp_path / "contest.npy", "--models", tmp_path / "adapted",
                     "-o", tmp_path / "s.txt"])
    assert result.exit_code == 0, result.output
    assert np.mean(np.loadtxt(tmp_path / "s.txt", dtype=int) == labels) >= 0.9
