"""contest.data.formats and contest.data.spec: every training-data form, read from small files the
tests write, gives the same images and labels; the input spec drives the architectures."""
import numpy as np
import pytest
from PIL import Image

from contest.cli.run import write_kaggle_csv
from contest.data import decode_text as csvdata
from contest.data.formats import detect_format, load_data
from contest.data.sources import training_source
from contest.data.spec import (FASHION_MNIST_NAMES, MNIST, InputSpec, parse_class_names,
                               spec_of_manifest)
from contest.errors import ContestError, ContestInputError
from contest.train.architectures import ARCHITECTURES, build_model
from contest_testutil import write_idx


@pytest.fixture(scope="module")
def grey():
    """(images uint8 (12, 28, 28), labels 0..2) with every class present."""
    rng = np.random.default_rng(5)
    return rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), np.arange(12) % 3


@pytest.fixture(scope="module")
def colour():
    rng = np.random.default_rng(6)
    return rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8), np.array([0, 1, 2, 0, 1, 2])


def assert_same(data, images, labels, fmt):
    assert data.format == fmt
    assert data.images.dtype == np.uint8 and np.array_equal(data.images, images)
    assert data.labels.dtype == np.int64 and np.array_equal(data.labels, labels)


def test_idx_directory_gzip_or_not(tmp_path, grey):
    for compress in (True, False):
        directory = tmp_path / f"idx-{compress}"
        directory.mkdir()
        write_idx(directory / "train-images-idx3-ubyte", grey[0], compress)
        write_idx(directory / "train-labels-idx1-ubyte", grey[1], compress)
        assert_same(load_data(directory), *grey, "idx")
    assert_same(load_data(directory / "train-images-idx3-ubyte"), *grey, "idx")  # a file of it


def test_fashion_mnist_directory_gets_its_class_names(tmp_path, grey):
    directory = tmp_path / "fashion-mnist"
    directory.mkdir()
    write_idx(directory / "train-images-idx3-ubyte", grey[0])
    write_idx(directory / "train-labels-idx1-ubyte", grey[1])
    spec = load_data(directory).spec()
    assert spec.class_names == FASHION_MNIST_NAMES and spec.label(7) == "7 Sneaker"


def test_kaggle_csv_with_bom_crlf_id_column_and_chunks(tmp_path, grey, monkeypatch):
    images, labels = grey
    header = ["ImageId", "label"] + [f"pixel{i}" for i in range(784)]
    rows = [",".join(map(str, [k + 1, labels[k]] + images[k].ravel().tolist()))
            for k in range(len(images))]
    path = tmp_path / "train.csv"
    path.write_bytes(("\ufeff" + "\r\n".join([",".join(header)] + rows) + "\r\n").encode())
    monkeypatch.setattr(csvdata, "CHUNK_ROWS", 5)  # three chunks: 5 + 5 + 2 rows
    assert_same(load_data(path), images, labels, "csv")


def test_csv_written_by_export_reads_back_and_other_label_column(tmp_path, grey):
    write_kaggle_csv(tmp_path / "train.csv", *grey)
    assert_same(load_data(tmp_path / "train.csv"), *grey, "csv")
    text = (tmp_path / "train.csv").read_text().replace("label,", "digit,", 1)
    (tmp_path / "digit.csv").write_text(text)
    assert_same(load_data(tmp_path / "digit.csv", label_column="digit"), *grey, "csv")
    with pytest.raises(ContestInputError, match="no label column 'label'"):
        load_data(tmp_path / "digit.csv")


def test_csv_square_size_comes_from_the_column_count(tmp_path):
    images = np.arange(2 * 32 * 32).reshape(2, 32, 32) % 256
    write_kaggle_csv(tmp_path / "big.csv", images, [0, 1])
    data = load_data(tmp_path / "big.csv")
    assert data.images.shape == (2, 32, 32) and data.spec().shape_text() == "32x32"


@pytest.mark.parametrize("layout", ["nhw", "nhwc", "nchw"])
def test_npz_and_npy_pair_in_every_layout(tmp_path, colour, grey, layout):
    images, labels = grey if layout == "nhw" else colour
    stored = images.transpose(0, 3, 1, 2) if layout == "nchw" else images
    np.savez(tmp_path / "xy.npz", x=stored, y=labels)
    np.savez(tmp_path / "il.npz", images=stored, labels=labels)
    assert_same(load_data(tmp_path / "xy.npz"), images, labels, "npz")
    assert_same(load_data(tmp_path / "il.npz"), images, labels, "npz")
    np.save(tmp_path / "images.npy", stored)
    np.save(tmp_path / "labels.npy", labels)
    assert_same(load_data(tmp_path / "images.npy"), images, labels, "npy")
    assert detect_format(tmp_path) == "npy"


def test_image_folder_with_three_classes(tmp_path, colour):
    images, labels = colour
    names = ("cat", "dog", "emu")
    for k, (image, label) in enumerate(zip(images, labels)):
        folder = tmp_path / "train" / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{k:03d}.png")
    data = load_data(tmp_path / "train")
    by_class = np.argsort(labels, kind="stable")  # read class by class, files sorted, then
    order = by_class[np.random.default_rng(0).permutation(6)]  # shuffled with seed 0
    assert_same(data, images[order], labels[order], "folder")
    assert data.spec().class_names == names and data.spec().channels == 3


def test_grey_image_folder_stays_grey(tmp_path, grey):
    for k, (image, label) in enumerate(zip(*grey)):
        folder = tmp_path / "g" / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{k}.png")
    data = load_data(tmp_path / "g")
    assert data.images.shape == (12, 28, 28) and data.spec().channels == 1


def cifar_record(label, image):
    """One CIFAR-10 binary record, byte by byte per the published layout: the label byte, then
    the red plane, the green plane and the blue plane, each 32 rows of 32 bytes."""
    record = bytearray([label])
    for channel in range(3):
        for row in range(32):
            for column in range(32):
                record.append(int(image[row, column, channel]))
    return bytes(record)


def test_cifar10_binary_batches_and_meta(tmp_path, colour):
    images, labels = colour
    (tmp_path / "data_batch_1.bin").write_bytes(b"".join(
        cifar_record(labels[k], images[k]) for k in range(4)))
    (tmp_path / "data_batch_2.bin").write_bytes(cifar_record(labels[4], images[4]))
    (tmp_path / "test_batch.bin").write_bytes(cifar_record(labels[5], images[5]))
    (tmp_path / "batches.meta.txt").write_text("airplane\nautomobile\nbird\n\n")
    train = load_data(tmp_path)
    assert_same(train, images[:5], labels[:5], "cifar10")
    assert train.spec().class_names == ("airplane", "automobile", "bird")
    assert_same(load_data(tmp_path, "test"), images[5:], labels[5:], "cifar10")
    source = training_source(data=str(tmp_path))
    assert source.test is not None and "CIFAR-10 binary" in source.header()


def test_spec_round_trip_and_old_manifests_are_mnist():
    spec = InputSpec(3, 32, 32, 10, tuple("abcdefghij"))
    assert InputSpec.from_dict(spec.to_dict()) == spec
    assert spec_of_manifest({"format": "contest-ensemble-1"}) == MNIST
    assert MNIST.class_names == tuple(str(k) for k in range(10)) and not MNIST.named
    assert "32x32x3 colour images, 10 classes" in spec.describe()
    with pytest.raises(ValueError, match="8..1024"):
        InputSpec(1, 4, 4, 10)
    with pytest.raises(ContestInputError, match="bad 'input'"):
        InputSpec.from_dict({"channels": 1, "height": 28, "width": 28, "classes": 1})


def test_class_names_option_forms(tmp_path):
    assert parse_class_names("fashion-mnist") == FASHION_MNIST_NAMES
    assert parse_class_names("cat, dog") == ("cat", "dog")
    (tmp_path / "names.txt").write_text("x\ny\nz\n")
    assert parse_class_names(str(tmp_path / "names.txt")) == ("x", "y", "z")
    with pytest.raises(ContestError, match="--class-names"):
        parse_class_names("solo")


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("spec", [InputSpec(3, 32, 32, 10), InputSpec(1, 8, 8, 2),
                                  InputSpec(3, 96, 64, 5)])
def test_architectures_follow_the_spec(arch, spec):
    model = build_model(arch, np.random.default_rng(0), spec=spec)
    out = model.forward(np.zeros((2,) + spec.model_shape, np.float32))
    assert out.shape == (2, spec.classes)
    dense_inputs = [layer.in_features for layer in model.layers
                    if type(layer).__name__ == "Dense"]
    assert dense_inputs[0] <= 128 * 64  # further pooling keeps the head small


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_mnist_spec_builds_the_same_network_as_before(arch):
    default = build_model(arch, np.random.default_rng(1))
    explicit = build_model(arch, np.random.default_rng(1), spec=MNIST)
    assert [type(layer).__name__ for layer in default.layers] == \
        [type(layer).__name__ for layer in explicit.layers]
    for (name, a), (_, b) in zip(default.state_dict().items(), explicit.state_dict().items()):
        assert np.array_equal(a, b), name


def test_test_folder_lacking_a_class_is_numbered_by_the_training_names(tmp_path, colour):
    images, labels = colour
    _folders(tmp_path / "train", images, labels, ("cat", "dog", "emu"))
    keep = labels != 1
    _folders(tmp_path / "test", images[keep], labels[keep], ("cat", "dog", "emu"))
    source = training_source(data=str(tmp_path / "train"), test=str(tmp_path / "test"))
    assert sorted(source.test.labels.tolist()) == [0, 0, 2, 2]  # emu stays 2, not 1
    _folders(tmp_path / "other", images, labels, ("cat", "dog", "yak"))
    with pytest.raises(ContestInputError, match="test class 'yak' is not one of"):
        training_source(data=str(tmp_path / "train"), test=str(tmp_path / "other"))


def _folders(root, images, labels, names):
    for k, (image, label) in enumerate(zip(images, labels)):
        folder = root / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{k:03d}.png")
