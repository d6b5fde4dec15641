"""Output paths: never an input, never inside a model directory, never another output, never a
link or special file, checked before the work; all outputs of a command written or none."""
import errno
import os
import shutil

import numpy as np
import pytest

from contest.errors import ContestError
from contest_testutil import assert_refused, invoke


@pytest.fixture
def images(exported, tmp_path):
    path = tmp_path / "in.npy"
    shutil.copy(exported[0], path)
    return path


def _predict(images, models, *args):
    return invoke(["predict", images, "--models", models, *args])


def test_predict_refuses_output_over_its_input(images, models):
    before = images.read_bytes()
    assert_refused(_predict(images, models, "-o", images), "is an input")
    assert images.read_bytes() == before


def test_predict_refuses_output_over_input_hard_link(images, models, tmp_path):
    link = tmp_path / "alias.txt"
    os.link(images, link)
    assert_refused(_predict(images, models, "-o", link), "is an input")


def test_predict_refuses_output_inside_model_directory(images, models_copy):
    manifest = models_copy / "ensemble.json"
    before = manifest.read_bytes()
    result = _predict(images, models_copy, "-o", manifest)
    assert_refused(result, "model directory")
    assert manifest.read_bytes() == before


def test_predict_refuses_output_in_another_model_directory(images, models, models_copy):
    target = models_copy / "sub.txt"
    assert_refused(_predict(images, models, "-o", target), "model directory", [target])


def test_predict_refuses_same_file_for_submission_and_proba(images, models, tmp_path):
    out = tmp_path / "both.npy"
    assert_refused(_predict(images, models, "-o", out, "--proba", out), "same file", [out])


def test_export_refuses_same_file_for_images_and_labels(tiny_data, tmp_path):
    out = tmp_path / "x.npy"
    result = invoke(["export", "--out", out, "--labels", out, "--data-dir", tiny_data])
    assert_refused(result, "same file", [out])


def test_output_symlink_is_refused_and_target_kept(images, models, tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert_refused(_predict(images, models, "-o", link), "symbolic link")
    assert link.is_symlink() and target.read_text() == "keep me\n"


def test_output_fifo_is_refused(images, models, tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert_refused(_predict(images, models, "-o", fifo), "special file")
    assert fifo.is_fifo()


def test_unwritable_output_refused_before_any_work(images, models, tmp_path, monkeypatch):
    import contest.cli.run

    def never(*args):
        raise AssertionError("the ensemble was loaded before the output was checked")
    monkeypatch.setattr(contest.cli.run, "load_ensemble", never)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert_refused(_predict(images, models, "-o", blocker / "out.txt"), "not a directory")
    assert_refused(_predict(images, models, "-o", "/proc/contest-out.txt"), "not writable")


def test_failing_proba_write_leaves_no_submission(images, models, tmp_path, monkeypatch):
    import contest.cli.run
    from contest.cli.run import run_predict

    def disk_full(path, array):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(contest.cli.run, "write_npy", disk_full)
    out, proba = tmp_path / "sub.txt", tmp_path / "p.npy"
    with pytest.raises(ContestError, match="No space left on device"):
        run_predict(images, out, models, proba_path=proba)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy"]


def test_predict_writes_both_outputs(images, models, tmp_path):
    out, proba = tmp_path / "sub.csv", tmp_path / "p.npy"
    result = _predict(images, models, "-o", out, "--proba", proba)
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("ImageId,Label\n")
    assert np.load(proba).shape == (200, 10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy", "p.npy", "sub.csv"]


def test_evaluate_report_refuses_its_png_input(exported, models, tmp_path):
    from PIL import Image

    png, labels = tmp_path / "digit.png", tmp_path / "labels.npy"
    Image.fromarray(np.load(exported[0])[0]).save(png)
    np.save(labels, np.load(exported[1])[:1])
    before = png.read_bytes()
    result = invoke(["evaluate", "--models", models, "--images", png, "--labels", labels,
                     "--report", png])
    assert_refused(result, "is an input")
    assert png.read_bytes() == before


def test_predict_one_save_png_refuses_model_directory(models_copy):
    target = models_copy / "member-0-curves.png"
    before = target.read_bytes()
    result = invoke(["predict-one", "--models", models_copy, "--save-png", target])
    assert_refused(result, "model directory")
    assert target.read_bytes() == before


@pytest.mark.parametrize("device", ["/dev/stdout", "/dev/null"])
def test_device_outputs_are_refused_not_replaced(images, models, device):
    import stat

    mode = os.lstat(device).st_mode
    assert_refused(_predict(images, models, "-o", device), device)
    assert os.lstat(device).st_mode == mode
    assert stat.S_ISLNK(mode) or stat.S_ISCHR(mode)
