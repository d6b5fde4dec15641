"""cifar-10-batches-py: batches written here in the CIFAR layout are read through the
restricted unpickler; a pickle that would run code is refused in one line and nothing runs."""
import os
import pickle

import numpy as np
import pytest

from contest.data.cifar_pickle import load_plain_pickle
from contest.data.formats import detect_format, has_test_split, load_data
from contest.errors import ContestInputError
from contest_testutil import assert_refused, invoke

NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
         b"ship", b"truck"]


def cifar_batch(count, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, count)]
    data = images.transpose(0, 3, 1, 2).reshape(count, 3072)   # planes R, G, B, row by row
    batch = {b"batch_label": b"training batch", b"labels": labels, b"data": data,
             b"filenames": [f"img{i}.png".encode() for i in range(count)]}
    return batch, images, np.array(labels)


def write_pickle(path, obj, protocol):
    path.write_bytes(pickle.dumps(obj, protocol=protocol))


@pytest.fixture
def cifar_dir(tmp_path):
    directory = tmp_path / "cifar-10-batches-py"
    directory.mkdir()
    expected = []
    for i, protocol in ((1, 2), (2, 4)):   # protocol 2 stores bytes via _codecs.encode
        batch, images, labels = cifar_batch(30, i)
        write_pickle(directory / f"data_batch_{i}", batch, protocol)
        expected.append((images, labels))
    batch, images, labels = cifar_batch(20, 9)
    write_pickle(directory / "test_batch", batch, 2)
    write_pickle(directory / "batches.meta", {b"label_names": NAMES, b"num_vis": 3072}, 2)
    return directory, expected, (images, labels)


def test_a_cifar_style_directory_is_read(cifar_dir):
    directory, expected, (test_images, test_labels) = cifar_dir
    assert detect_format(directory) == "cifar10py" and has_test_split(directory)
    train = load_data(directory, "train")
    np.testing.assert_array_equal(train.images, np.concatenate([e[0] for e in expected]))
    np.testing.assert_array_equal(train.labels, np.concatenate([e[1] for e in expected]))
    assert train.images.shape == (60, 32, 32, 3) and train.class_names[0] == "airplane"
    test = load_data(directory, "test")
    np.testing.assert_array_equal(test.images, test_images)
    np.testing.assert_array_equal(test.labels, test_labels)


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("payload", ["system", "eval", "in_dict"])
def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path, payload):
    marker = tmp_path / "ran"
    evil = {"system": RunsCode(marker), "in_dict": {b"data": RunsCode(marker), b"labels": []},
            "eval": None}[payload]
    path = tmp_path / "data_batch_1"
    if payload == "eval":
        class Eval:
            def __reduce__(self):
                return (eval, (f"open({str(marker)!r}, 'w')",))
        evil = Eval()
    write_pickle(path, evil, 2)
    with pytest.raises(ContestInputError) as err:
        load_plain_pickle(path)
    message = str(err.value)
    assert "refused" in message and ("system" in message or "eval" in message)
    assert "\n" not in message
    assert not marker.exists()


def test_an_object_array_is_refused(tmp_path):
    path = tmp_path / "data_batch_1"
    write_pickle(path, {b"data": np.array([1, "x"], dtype=object), b"labels": [0, 1]}, 2)
    with pytest.raises(ContestInputError, match="dtype object"):
        load_plain_pickle(path)


def test_train_ensemble_refuses_a_malicious_batch_in_one_line(tmp_path):
    directory = tmp_path / "cifar-10-batches-py"
    directory.mkdir()
    marker = tmp_path / "ran"
    write_pickle(directory / "data_batch_1", RunsCode(marker), 2)
    result = invoke(["train-ensemble", "--data", directory, "--out", tmp_path / "m", "-q"])
    assert_refused(result, directory / "data_batch_1")
    assert not marker.exists() and not (tmp_path / "m").exists()


def test_truncated_pickle_is_refused(tmp_path, cifar_dir):
    directory = cifar_dir[0]
    raw = (directory / "data_batch_1").read_bytes()
    (directory / "data_batch_1").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ContestInputError, match="data_batch_1"):
        load_data(directory, "train")
