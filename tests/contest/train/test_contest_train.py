"""contest train-ensemble: outputs, determinism across --jobs, resume, reuse and refusals."""
import json

import numpy as np
import pytest

import nnlib as nn
from contest.fileio import sha256_file
from contest.train import local
from contest.train.member import member_rngs, train_member
from contest.train.presets import PRESETS
from contest_testutil import alive, assert_refused, children, invoke, train


class Interrupted(RuntimeError):
    """Raised by `Interrupter`: a member stopped in the middle of an epoch, like a killed worker."""


class Interrupter(nn.Callback):
    """Raises Interrupted after batch `batch` of epoch `epoch` (0-based)."""

    def __init__(self, epoch, batch):
        self.at, self.epoch = (epoch, batch), 0

    def on_epoch_begin(self, epoch, state):
        self.epoch = epoch

    def on_batch_end(self, batch, logs):
        if (self.epoch, batch) == self.at:
            raise Interrupted(f"interrupted at epoch {self.epoch} batch {batch}")


def interrupt_member(monkeypatch, index, epoch, batch):
    """Make member `index` of the next in-process run (--jobs 1) stop at (epoch, batch)."""
    def train_with_interruption(job, *arrays):
        extra = [Interrupter(epoch, batch)] if job.index == index else []
        return train_member(job, *arrays, callbacks=extra)
    monkeypatch.setattr(local, "train_member", train_with_interruption)


def predict_files(models, images, out_dir):
    """(submission bytes, probability bytes) of `contest predict` with `models`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result = invoke(["predict", images, "--models", models, "-o", out_dir / "s.csv",
                     "--proba", out_dir / "p.npy"])
    assert result.exit_code == 0, result.output
    return (out_dir / "s.csv").read_bytes(), (out_dir / "p.npy").read_bytes()


def weights(path):
    return nn.load(path).state_dict()


def assert_same_members(dir_a, dir_b, n=2):
    for k in range(n):
        a, b = weights(dir_a / f"member-{k}.npz"), weights(dir_b / f"member-{k}.npz")
        assert a.keys() == b.keys()
        for name in a:
            assert np.array_equal(a[name], b[name]), f"member {k} weight {name} differs"


def test_training_writes_members_manifest_and_curves(trained, tiny_data):
    models, output = trained
    manifest = json.loads((models / "ensemble.json").read_text())
    assert manifest["arch"] == "a" and manifest["n"] == 2 and manifest["seed"] == 3
    assert manifest["preset"]["name"] == "fast" and manifest["preset"]["epochs"] == 2
    assert manifest["augment"] == {"rotation": 5, "shift": 1}
    assert manifest["normalisation"] == "unit"
    assert manifest["data"]["dir"] == str(tiny_data.resolve())
    assert manifest["data"]["train_size"] == 270 and manifest["data"]["validation_size"] == 30
    for k, member in enumerate(manifest["members"]):
        path = models / member["file"]
        assert member["sha256"] == sha256_file(path) and member["spawn_key"] == [k]
        assert member["epochs"] == 2 and 0 <= member["val_acc"] <= 1
        assert (models / member["curves"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        _, meta = nn.load_with_metadata(path)
        assert meta["seed"] == 3 and len(meta["history"]["epoch"]) == 2
        assert meta["history"]["history"]["val_acc"][-1] == pytest.approx(member["val_acc"])
    assert 0 <= manifest["test_accuracy"] <= 1 and manifest["test_size"] == 200
    assert not list(models.glob("*.ckpt.npz")) and not (models / ".progress").exists()
    assert "member 0: ep 1/2" in output and "member 1: ep 2/2" in output  # progress lines
    assert "ensemble test accuracy:" in output and "val acc" in output


def test_member_generators_come_from_seed_sequence_spawn():
    for k, child in enumerate(np.random.SeedSequence(7).spawn(3)):
        expected = [np.random.default_rng(s).random() for s in child.spawn(2)]
        assert [rng.random() for rng in member_rngs(7, k)] == expected


def test_jobs_1_and_jobs_2_give_identical_submissions(models, tiny_data, exported, tmp_path):
    other = tmp_path / "jobs2"
    result = train(other, tiny_data, "--jobs", "2", "--quiet")
    assert result.exit_code == 0, result.output
    assert "member 0: ep" not in result.output  # --quiet: no progress lines
    assert_same_members(models, other)
    images = exported[0]
    assert predict_files(models, images, tmp_path / "p1") == \
        predict_files(other, images, tmp_path / "p2")


def test_resume_after_an_interruption_equals_an_uninterrupted_run(models, tiny_data, exported,
                                                                  tmp_path, monkeypatch):
    out = tmp_path / "resumed"
    # member 1 "dies" in the first batch of its second epoch, after member 0 finished
    with monkeypatch.context() as patch:
        interrupt_member(patch, index=1, epoch=1, batch=0)
        result = train(out, tiny_data, "--jobs", "1")
    assert isinstance(result.exception, Interrupted), result.output
    assert (out / "member-0.npz").exists() and (out / "member-1.ckpt.npz").exists()
    assert not (out / "member-1.npz").exists() and not (out / "ensemble.json").exists()
    finished = (out / "member-0.npz").stat().st_mtime_ns
    result = train(out, tiny_data, "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert (out / "member-0.npz").stat().st_mtime_ns == finished  # skipped, not retrained
    assert "member 1: ep 2/2" in result.output and "member 0: ep" not in result.output
    manifest = json.loads((out / "ensemble.json").read_text())
    assert [m["resumed"] for m in manifest["members"]] == [False, True]
    assert_same_members(models, out)
    assert predict_files(models, exported[0], tmp_path / "a") == \
        predict_files(out, exported[0], tmp_path / "b")


def test_more_members_reuse_the_finished_ones(models_copy, tiny_data):
    before = [sha256_file(models_copy / f"member-{k}.npz") for k in range(2)]
    result = train(models_copy, tiny_data, "--jobs", "1", "--quiet", "--n", "3")
    assert result.exit_code == 0, result.output
    manifest = json.loads((models_copy / "ensemble.json").read_text())
    assert manifest["n"] == 3 and [m["sha256"] for m in manifest["members"][:2]] == before
    assert (models_copy / "member-2.npz").exists()


def test_a_directory_trained_with_other_settings_is_refused(models_copy, tiny_data):
    manifest = (models_copy / "ensemble.json").read_bytes()
    result = train(models_copy, tiny_data, "--epochs", "3")
    assert_refused(result, "preset.epochs")
    assert (models_copy / "ensemble.json").read_bytes() == manifest


@pytest.mark.parametrize("value, problem", [
    ("spin", "not 'none', 'default' or a JSON object"),
    ("[1, 2]", "expected a JSON object"),
    ('{"spin": 3}', "spin"),
    ('{"zoom": 2}', "zoom"),
])
def test_bad_augment_option_is_refused(tmp_path, tiny_data, value, problem):
    result = invoke(["train-ensemble", "--augment", value, "--out", tmp_path / "m",
                     "--data-dir", tiny_data])
    assert result.exit_code == 2 and problem in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


def test_augment_none_and_default_keywords():
    from contest.cli.commands import parse_augment

    assert parse_augment(None, None, "none") == {}
    assert parse_augment(None, None, "default") == PRESETS["default"].augment
    assert parse_augment(None, None, None) is None


def test_missing_data_dir_is_refused(tmp_path):
    result = invoke(["train-ensemble", "--out", tmp_path / "m", "--data-dir", tmp_path / "none"])
    assert_refused(result, "data directory not found")


def test_ctrl_c_during_training_says_how_to_resume(monkeypatch, tmp_path):
    import contest.train.run
    from click.testing import CliRunner
    from contest.cli import main

    def interrupted(settings, monitor_mode="lines", stream=None):
        raise KeyboardInterrupt
    monkeypatch.setattr(contest.train.run, "train_ensemble", interrupted)
    result = CliRunner().invoke(main, ["train-ensemble", "--n", "1", "--preset", "fast",
                                       "--out", str(tmp_path / "m")])
    assert result.exit_code == 130
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "rerun the same command to resume" in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("count,workers,n,cores,expected", [
    (5, 2, 5, 2, [1, 1, 1, 1, 2]),        # the fifth member runs alone: both cores
    (4, 2, 4, 2, [1, 1, 1, 1]),
    (5, 1, 5, 2, [1, 1, 1, 1, 1]),        # --jobs 1 keeps to one core
    (1, 1, 1, 2, [2]),
    (3, 2, 5, 2, [1, 1, 2]),              # resuming with three members left
    (6, 4, 6, 4, [1, 1, 1, 1, 2, 2]),
])
def test_members_of_a_last_partial_round_get_the_idle_cores(count, workers, n, cores, expected):
    from contest.train.plan import member_threads
    assert member_threads(count, workers, n, cores) == expected


@pytest.mark.parametrize("count,cores,expected", [
    (5, 2, 3),    # three share the cores, then two: no core idles
    (4, 2, 2), (6, 2, 2), (3, 2, 3), (7, 2, 4), (9, 2, 3),
    (1, 2, 1), (2, 4, 2),                 # fewer members than cores: one worker each
    (6, 4, 6), (5, 4, 5), (9, 4, 5),      # 9 on 4: five, then four
])
def test_default_workers_keep_every_core_busy_to_the_end(count, cores, expected):
    from contest.train.plan import default_workers
    assert default_workers(count, cores) == expected


def test_mixed_architectures_are_taken_in_turn_and_predict(tmp_path, tiny_data, exported):
    out = tmp_path / "mixed"
    result = train(out, tiny_data, "--n", "3", "--arch", "a+e", "--epochs", "1")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "ensemble.json").read_text())
    assert manifest["arch"] == "a+e"
    archs = [nn.load_with_metadata(out / m["file"])[1]["arch"] for m in manifest["members"]]
    assert archs == ["a", "e", "a"]
    images, _ = exported
    result = invoke(["predict", images, "--models", out, "-o", tmp_path / "s.txt"])
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "s.txt").read_text().split()) == len(np.load(images))


def test_a_member_of_the_wrong_architecture_in_a_mixed_ensemble_is_refused(tmp_path, models_copy,
                                                                          exported):
    manifest = json.loads((models_copy / "ensemble.json").read_text())
    manifest["arch"] = "e+a"                  # member 0 is an arch-a network
    (models_copy / "ensemble.json").write_text(json.dumps(manifest))
    images, _ = exported
    result = invoke(["predict", images, "--models", models_copy, "-o", tmp_path / "s.txt"])
    assert_refused(result, "member-0.npz", [tmp_path / "s.txt"])


@pytest.mark.parametrize("value", ["z", "a+", "a+zz"])
def test_unknown_architecture_names_are_refused(tmp_path, tiny_data, value):
    result = invoke(["train-ensemble", "--arch", value, "--out", tmp_path / "m",
                     "--data-dir", tiny_data])
    assert result.exit_code == 2 and "unknown architecture" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "m").exists()


def test_sigterm_stops_the_workers_too_and_says_how_to_resume(tiny_data, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "m"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from contest.cli import main; main()", "train-ensemble",
         "--n", "2", "--jobs", "2", "--preset", "fast", "--epochs", "500", "--quiet",
         "--out", str(out), "--data-dir", str(tiny_data)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    workers = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not list(out.glob("member-*.ckpt.npz")):
            time.sleep(0.2)    # both workers have started training once a checkpoint appears
        workers = children(proc.pid)
        assert workers, "no worker processes seen"
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
        assert proc.returncode == 130, output
        assert "rerun the same command to resume" in output and "Traceback" not in output
        deadline = time.time() + 10
        while time.time() < deadline and any(alive(w) for w in workers):
            time.sleep(0.2)
        assert not any(alive(w) for w in workers), "worker processes outlived the command"
    finally:   # a failing run must not leave processes behind
        for pid in [proc.pid] + workers:
            if alive(pid):
                __import__("os").kill(pid, signal.SIGKILL)
