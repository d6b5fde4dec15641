"""contest.data.datasets: IDX parsing, checksum verification of the bundled MNIST, data directories."""
import gzip
import shutil

import numpy as np
import pytest

from contest.data import datasets
from contest.errors import ContestInputError

from contest_testutil import write_idx


def test_bundled_mnist_loads_and_verifies():
    images, labels = datasets.load_split("test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(labels).tolist()[:3] == [980, 1135, 1032]


def test_fingerprint_of_bundled_data_is_the_known_md5():
    info = datasets.fingerprint("test")
    assert info["dir"] is None
    assert info["md5"] == {stem: datasets.MNIST_MD5[stem] for stem in datasets.FILES["test"]}


def test_tampered_bundled_copy_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "mnist"
    shutil.copytree(datasets.BUNDLED_DIR, copy)
    labels = bytearray(gzip.decompress((copy / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    labels[100] = (labels[100] + 1) % 10
    (copy / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(labels)))
    monkeypatch.setattr(datasets, "BUNDLED_DIR", copy.resolve())
    with pytest.raises(ContestInputError, match="t10k-labels.*checksum mismatch"):
        datasets.load_split("test")


def test_other_directory_via_environment_variable(tiny_data, monkeypatch):
    monkeypatch.setenv(datasets.ENV_VAR, str(tiny_data))
    images, labels = datasets.load_split("train")
    assert images.shape == (400, 28, 28) and len(labels) == 400
    assert datasets.fingerprint("train")["dir"] == str(tiny_data.resolve())


def test_plain_and_gzip_idx_give_the_same_array(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a", array, compress=False)
    write_idx(tmp_path / "b", array, compress=True)
    assert np.array_equal(datasets.read_idx(tmp_path / "a"), array)
    assert np.array_equal(datasets.read_idx(tmp_path / "b.gz"), array)


@pytest.mark.parametrize("data, problem", [
    (b"\x01\x02\x08\x01" + b"\0\0\0\x01" + b"\x05", "bad magic"),
    (b"\0\0\x08\x03\0\0", "truncated IDX header"),
    (b"\0\0\x08\x01" + b"\0\0\0\x05" + b"\x01\x02", "size mismatch"),
])
def test_malformed_idx_is_refused(data, problem):
    with pytest.raises(ContestInputError, match=problem):
        datasets.parse_idx(data, "f.idx")


def test_missing_directory_and_missing_file(tmp_path):
    with pytest.raises(ContestInputError, match="data directory not found"):
        datasets.load_split("train", tmp_path / "nowhere")
    with pytest.raises(ContestInputError, match="train-images-idx3-ubyte.*not found"):
        datasets.load_split("train", tmp_path)


def test_corrupt_gzip_is_refused(tmp_path):
    (tmp_path / "x.gz").write_bytes(gzip.compress(b"\0\0\x08\x01\0\0\0\x01\x07")[:-6])
    with pytest.raises(ContestInputError, match="corrupt or truncated gzip"):
        datasets.read_idx(tmp_path / "x.gz")


def test_validation_split_is_carved_from_the_end_of_the_limited_training_set():
    images, labels = np.arange(100)[:, None], np.arange(100) % 10
    (xt, yt), (xv, yv) = datasets.train_validation_split(images, labels, 5, limit=50)
    assert len(xt) == 45 and xv[:, 0].tolist() == [45, 46, 47, 48, 49]
    assert datasets.validation_size_for(60000, 5000) == 5000
    assert datasets.validation_size_for(300, 5000) == 30
    with pytest.raises(ValueError):
        datasets.train_validation_split(images, labels, 100)
