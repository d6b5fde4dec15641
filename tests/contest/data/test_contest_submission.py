"""contest.data.submission, contest.fileio and contest.cli.display."""
import os

import numpy as np
import pytest

from contest.cli import display
from contest.errors import ContestInputError
from contest.fileio import atomic_open, write_npy
from contest.data.submission import format_for, read_submission, write_submission


def test_txt_and_csv_round_trip(tmp_path):
    labels = np.array([3, 0, 9, 9, 1])
    assert write_submission(tmp_path / "s.txt", labels) == "txt"
    assert (tmp_path / "s.txt").read_text() == "3\n0\n9\n9\n1\n"
    assert write_submission(tmp_path / "s.csv", labels) == "csv"
    assert (tmp_path / "s.csv").read_text().splitlines()[:3] == ["ImageId,Label", "1,3", "2,0"]
    for name in ("s.txt", "s.csv"):
        assert read_submission(tmp_path / name).tolist() == labels.tolist()
    assert write_submission(tmp_path / "s.out", labels, "csv") == "csv"
    assert format_for("x.CSV") == "csv" and format_for("x.dat") == "txt"


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "s.txt"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write("new, half written")
            raise RuntimeError("disk full")
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["s.txt"]


def test_atomic_files_get_normal_permissions(tmp_path):
    write_npy(tmp_path / "p.npy", np.zeros(3))
    assert (tmp_path / "p.npy").stat().st_mode & 0o044  # readable by others (umask allowing)
    assert np.load(tmp_path / "p.npy").shape == (3,)


@pytest.mark.parametrize("text, problem", [
    ("3\nx\n", "line 2: 'x' is not a class number"),
    ("3\n-1\n", "line 2: '-1' is not a class number"),
    ("3\n1.5\n", "line 2: '1.5' is not a class number"),
    ("ImageId,Label\n1,3\n3,4\n", "line 3: ImageId '3', expected 2"),
    ("ImageId,Label\n1;3\n", "line 2: expected 'ImageId,Label'"),
    ("\n\n", "empty"),
])
def test_bad_submissions_are_refused_with_the_line(tmp_path, text, problem):
    (tmp_path / "s.txt").write_text(text)
    with pytest.raises(ContestInputError, match=problem):
        read_submission(tmp_path / "s.txt")


def test_submissions_of_more_than_ten_classes_are_read_back(tmp_path):
    """A 100-class ensemble's submission holds labels of two digits; score must read them."""
    labels = np.array([0, 12, 99, 7])
    for name in ("s.txt", "s.csv"):
        write_submission(tmp_path / name, labels)
        assert read_submission(tmp_path / name).tolist() == labels.tolist()


def test_display_digit_art_and_bars():
    image = np.zeros((28, 28), np.uint8)
    image[:, 14] = 255
    art = display.digit_art(image).splitlines()
    assert len(art) == 16 and all(len(line) == 30 for line in art)
    assert all(line[15] == "@" for line in art[1:-1])
    bars = display.probability_bars(np.eye(10)[7], width=10, marked=7).splitlines()
    assert bars[7].endswith("1.000  <") and "##########" in bars[7] and "#" not in bars[0]
    table = display.confusion_table(np.eye(10, dtype=int) * 5).splitlines()
    assert len(table) == 11 and table[1].split()[1] == "5"
