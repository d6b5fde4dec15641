"""train-ensemble and the CLI under careless or hostile use: one-line option errors for every
command, bounded augmentation, no divergent members saved, a locked --out, no links followed out
of it, leftovers of killed runs cleaned, a corrupt test split reported."""
import os
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from contest.errors import ContestError
from contest_testutil import alive, assert_refused, children, invoke, train

QUICK = ("--n", "1", "--epochs", "1", "--jobs", "1", "--quiet")


def test_negative_seed_is_one_line_and_leaves_nothing(tmp_path, tiny_data):
    out = tmp_path / "models"
    result = train(out, tiny_data, "--seed", "-1")
    assert result.exit_code == 2, result.output
    assert result.output.strip() == "Error: --seed: -1 is not in the range x>=0."
    assert not out.exists()
    assert train(out, tiny_data, *QUICK, "--seed", "0").exit_code == 0


BAD_OPTIONS = [
    (["train-ensemble", "--n", "0"], "--n: 0 is not in the range x>=1."),
    (["train-ensemble", "--preset", "huge"], "--preset: 'huge' is not one of"),
    (["predict"], "Missing argument 'IMAGES'."),
    (["predict", "x.npy", "--batch-size", "0"], "--batch-size: 0 is not in the range x>=1."),
    (["predict", "x.npy", "--format", "xml"], "--format: 'xml' is not one of 'txt', 'csv'."),
    (["predict-one", "--label", "-1"], "--label: -1 is not in the range x>=0."),
    (["evaluate", "--bogus"], "No such option '--bogus'."),
    (["score", "s.txt"], "Missing option '--labels'."),
    (["export", "--split", "nope", "--out", "a.npy"], "--split: 'nope' is not one of"),
    (["no-such-command"], "No such command 'no-such-command'."),
]


@pytest.mark.parametrize("args, message", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_click_option_errors_are_one_line(args, message):
    result = invoke(args)
    assert_refused(result, message)
    assert result.output.startswith("Error: ")


@pytest.mark.parametrize("augment, words", [
    ('{"shift": 1e9}', "shift must be a number in [0, 7] (received: 1000000000.0)"),
    ('{"rotation": 8, "elastic_alpha": 5000}', "elastic_alpha must be a number in [0, 100]"),
    ('{"pixel": {"blur_sigma": 50}}', "pixel.blur_sigma must be a number in [0, 3]"),
    ('{"zoom": NaN}', "zoom must be a number in [0, 0.5]"),
])
def test_augment_parameters_out_of_range_are_refused(tmp_path, tiny_data, augment, words):
    out = tmp_path / "models"
    result = train(out, tiny_data, "--augment", augment)
    assert_refused(result, words)
    assert not out.exists()


@pytest.mark.parametrize("augment, words", [
    ({"bogus": 1}, "augment: unknown parameter 'bogus'; allowed: elastic_alpha, elastic_sigma, "
                   "p_affine, p_elastic, p_flip, pixel, rotation, shear, shift, style, zoom"),
    ({"pixel": {"bogus": 1}}, "pixel: unknown parameter 'bogus'; allowed: blur_sigma, "),
    ({"style": {"p_flag": 2}}, "style.p_flag must be a number in [0, 1]"),
])
def test_augment_errors_list_what_the_check_accepts(augment, words):
    from contest.train.augment_limits import check_augment

    with pytest.raises(ValueError) as raised:
        check_augment(augment)
    assert str(raised.value).startswith(words)
    check_augment({"pixel": {"p_blur": 0.1}, "style": {"p_flag": 0.3}})   # both listed, accepted


def test_presets_augmentation_is_within_the_bounds():
    from contest.train.augment_limits import check_augment
    from contest.train.presets import PRESETS

    for preset in PRESETS.values():
        check_augment(preset.augment)


# the rate is made to overflow the products on purpose; NumPy's warnings about it are expected
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_diverged_member_is_not_saved(tmp_path, tiny_data):
    from contest.train.plan import TrainSettings
    from contest.train.presets import PRESETS
    from contest.train.run import train_ensemble

    preset = replace(PRESETS["fast"], epochs=1, lr=1e30)
    settings = TrainSettings(preset=preset, n=1, out_dir=str(tmp_path / "m"), jobs=1,
                             backend="sequential", train_limit=300, data_dir=str(tiny_data))
    with pytest.raises(ContestError, match=r"member 0: training diverged \(\d+ NaN or infinite"):
        train_ensemble(settings, monitor_mode="quiet")
    assert not (tmp_path / "m" / "member-0.npz").exists()


def test_progress_symlink_out_of_out_dir_is_refused(tmp_path, tiny_data):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "member-0.json"
    victim.write_text("precious\n")
    out = tmp_path / "models"
    out.mkdir()
    (out / ".progress").symlink_to(outside)
    assert_refused(train(out, tiny_data, *QUICK), ".progress: is a symbolic link")
    assert victim.read_text() == "precious\n"
    assert not (out / "member-0.npz").exists()


def test_member_symlink_in_out_dir_is_refused(tmp_path, tiny_data, models):
    out = tmp_path / "models"
    out.mkdir()
    (out / "member-0.npz").symlink_to(models / "member-0.npz")
    assert_refused(train(out, tiny_data, *QUICK), "member-0.npz: is a symbolic link")


def test_second_run_on_a_locked_out_dir_is_refused(tmp_path, tiny_data):
    out = tmp_path / "models"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from filelock import FileLock\n"
        f"lock = FileLock({str(out / '.lock')!r}); lock.acquire(); print('held', flush=True);"
        " sys.stdin.read()")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert_refused(train(out, tiny_data, *QUICK), "another train-ensemble is running")
        assert not (out / "run.json").exists() and not (out / "member-0.npz").exists()
    finally:
        holder.communicate("")
    assert train(out, tiny_data, *QUICK).exit_code == 0


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_leftovers_of_a_killed_run_are_cleaned(tmp_path, tiny_data, monkeypatch):
    import contest.modeldir.guard as modeldir

    out, shm = tmp_path / "models", tmp_path / "shm"
    (out / ".contest-train-abc123").mkdir(parents=True)
    (out / ".contest-train-abc123" / "x_train.npy").write_bytes(b"0" * 1000)
    (out / ".member-0.ckpt.npz.k2j4h5g6.tmp").write_bytes(b"partial")
    (out / ".progress").mkdir()
    (out / ".progress" / "member-3.json").write_text("{}")
    pid = _dead_pid()
    (out / ".owner").write_text(f"{pid}\n")
    shm.mkdir()
    (shm / f"sem.loky-{pid}-q1w2e3").write_bytes(b"")
    (shm / f"sem.loky-{os.getpid()}-alive").write_bytes(b"")
    monkeypatch.setattr(modeldir, "SEMAPHORE_DIR", shm)
    assert train(out, tiny_data, *QUICK).exit_code == 0
    left = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
    assert left == [".lock", ".owner"]
    assert sorted(p.name for p in shm.iterdir()) == [f"sem.loky-{os.getpid()}-alive"]


def test_training_arrays_live_under_the_model_directory(tmp_path, tiny_data, monkeypatch):
    import contest.train.local as local

    seen, memmap = [], local._memmap
    monkeypatch.setattr(local, "_memmap", lambda path, array: seen.append(path) or
                        memmap(path, array))
    out = tmp_path / "models"
    assert train(out, tiny_data, *QUICK).exit_code == 0
    assert seen and all(path.resolve().is_relative_to(out.resolve()) for path in seen)


def test_corrupt_test_split_is_reported_before_training(tmp_path, tiny_data):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    (data / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    out = tmp_path / "models"
    result = train(out, data, *QUICK)
    assert_refused(result, "t10k-images-idx3-ubyte.gz: corrupt or truncated gzip file")
    assert not (out / "member-0.npz").exists()


def _alive(pids):
    return [pid for pid in pids if alive(pid)]


def test_kill_9_of_the_run_stops_its_workers(tmp_path, tiny_data):
    import time

    out = tmp_path / "m"
    main = subprocess.Popen([sys.executable, "-m", "contest", "train-ensemble", "--n", "2",
                             "--preset", "fast", "--epochs", "300", "--train-limit", "300",
                             "--out", str(out), "--data-dir", str(tiny_data), "--jobs", "2",
                             "--quiet"])
    workers = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not all(
                (out / ".progress" / f"member-{k}.json").exists() for k in range(2)):
            time.sleep(0.2)
        workers = children(main.pid)
        main.kill()
        main.wait()
        deadline = time.time() + 20
        while _alive(workers) and time.time() < deadline:
            time.sleep(0.2)
        assert workers and not _alive(workers)
        assert not list(out.glob("member-*.npz")) or all(".ckpt" in p.name
                                                         for p in out.glob("member-*.npz"))
    finally:
        main.kill()
        for pid in _alive(workers):
            os.kill(pid, 9)


@pytest.mark.parametrize("place, words", [("fifo", "exists and is not a directory"),
                                          ("file/sub", "cannot create the model directory"),
                                          ("/proc/contest-models", "cannot create")])
def test_unusable_out_is_one_line(tmp_path, tiny_data, place, words):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "file").write_text("x")
    out = tmp_path / place if not place.startswith("/") else place
    assert_refused(train(out, tiny_data, *QUICK), words)


@pytest.mark.parametrize("text, words", [("[" * 100000 + "]" * 100000, "nested 100000 levels"),
                                         ("{oops", "not valid JSON")])
def test_damaged_run_json_is_one_line(tmp_path, tiny_data, text, words):
    out = tmp_path / "models"
    out.mkdir()
    (out / "run.json").write_text(text)
    assert_refused(train(out, tiny_data, *QUICK), words)


def test_deeply_nested_augment_json_is_one_line(tmp_path, tiny_data):
    out = tmp_path / "models"
    assert_refused(train(out, tiny_data, "--augment", "[" * 30000 + "]" * 30000),
                   "--augment: not 'none', 'default' or a JSON object")
    assert not out.exists()
