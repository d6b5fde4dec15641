"""Shared fixtures for the contest tests: a tiny MNIST-format data directory and one tiny
ensemble trained once per session (arch "a", 2 members, 2 epochs, 300 training images)."""
import shutil

import pytest

from contest.data import datasets
from contest_testutil import invoke, train, write_mnist_slice


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """An IDX directory with the first 400 MNIST training and 200 test images."""
    return write_mnist_slice(tmp_path_factory.mktemp("tiny-mnist"), 400, 200)


@pytest.fixture(scope="session")
def tiny_test(tiny_data):
    return datasets.load_split("test", tiny_data)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, tiny_data):
    """(model directory, command output) of the session's tiny ensemble, trained with --jobs 1."""
    out = tmp_path_factory.mktemp("ensemble") / "models"
    result = train(out, tiny_data, "--jobs", "1")
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.fixture(scope="session")
def models(trained):
    """The session's model directory. Do not modify: tamper with `models_copy` instead."""
    return trained[0]


@pytest.fixture
def models_copy(models, tmp_path):
    target = tmp_path / "models-copy"
    shutil.copytree(models, target)
    return target


@pytest.fixture(scope="session")
def exported(tmp_path_factory, tiny_data):
    """The tiny test set exported as images.npy + labels.npy via `contest export`."""
    directory = tmp_path_factory.mktemp("exported")
    result = invoke(["export", "--out", directory / "images.npy", "--labels",
                     directory / "labels.npy", "--data-dir", tiny_data])
    assert result.exit_code == 0, result.output
    return directory / "images.npy", directory / "labels.npy"
