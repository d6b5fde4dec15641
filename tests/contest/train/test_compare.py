"""contest compare: the --vary grid, every variant from the same seed stream and data, the
report (table, CSV, Markdown, curves), resume, refusal of another comparison in the same
directory, and the same table whatever --jobs."""
import csv

import pytest

from contest.errors import ContestError
from contest.train.compare import parse_vary, variants
from contest_testutil import assert_refused, invoke

BASE = ["compare", "--preset", "fast", "--train-limit", "300", "--epochs", "1", "--seed", "2",
        "-q"]


def run(out, data_dir, *extra):
    result = invoke([*BASE, "--data-dir", data_dir, "--out", out, *extra])
    assert result.exit_code == 0, result.output
    return result


def rows_without_time(out):
    with open(out / "compare.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        del row["train_seconds"]
    return rows


def test_vary_values_are_read_with_the_options_types():
    vary = parse_vary(["optimizer=sgd,adam", "lr=0.1,0.01", "weight-decay=0,0.5", "arch=a,mlp:50"])
    assert vary == (("optimizer", ("sgd", "adam")), ("lr", (0.1, 0.01)),
                    ("weight_decay", (0.0, 0.5)), ("arch", ("a", "mlp:50")))
    labels = [label for label, _ in variants(vary[:2])]
    assert labels == ["optimizer=sgd, lr=0.1", "optimizer=sgd, lr=0.01",
                      "optimizer=adam, lr=0.1", "optimizer=adam, lr=0.01"]


@pytest.mark.parametrize("spec", ["optimizer", "colour=red", "optimizer=sgd,bogus", "lr=-1",
                                  "arch=zz", "epochs=0"])
def test_bad_vary_is_refused(spec):
    with pytest.raises(ContestError, match="--vary"):
        parse_vary([spec])


def test_a_bad_base_arch_is_refused_in_one_line(tmp_path, tiny_data):
    result = invoke([*BASE, "--data-dir", tiny_data, "--out", tmp_path / "c", "--arch", "zz",
                     "--vary", "lr=0.1,0.2"])
    assert_refused(result, "--arch")
    assert not (tmp_path / "c").exists()


@pytest.fixture(scope="module")
def compared(tmp_path_factory, tiny_data):
    """(directory trained with --jobs 1, directory trained with --jobs 2, output)."""
    root = tmp_path_factory.mktemp("compare")
    args = ["--vary", "optimizer=sgd,adam", "--vary", "epochs=1,2"]
    one = run(root / "one", tiny_data, "--jobs", "1", *args)
    run(root / "two", tiny_data, "--jobs", "2", *args)
    return root / "one", root / "two", one.output


def test_report_has_every_variant_in_table_csv_markdown_and_curves(compared):
    one, _, output = compared
    labels = ["optimizer=sgd, epochs=1", "optimizer=sgd, epochs=2", "optimizer=adam, epochs=1",
              "optimizer=adam, epochs=2"]
    rows = rows_without_time(one)
    assert [row["variant"] for row in rows] == labels
    assert [row["epochs"] for row in rows] == ["1", "2", "1", "2"]
    markdown = (one / "compare.md").read_text()
    for label in labels:
        assert label in output and f"| {label} |" in markdown
    assert (one / "compare-curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len({row["val_acc"] for row in rows}) > 1   # the optimizer changes the result


def test_variants_share_the_seed_stream_and_data(compared):
    import nnlib as nn

    one = compared[0]
    histories = [nn.load_with_metadata(one / f"member-{k}.npz")[1]["history"]["history"]
                 for k in range(4)]
    for short, long in ((0, 1), (2, 3)):   # epochs=1 is the first epoch of epochs=2
        assert histories[short]["loss"][0] == histories[long]["loss"][0]
        assert histories[short]["val_acc"][0] == histories[long]["val_acc"][0]


def test_tables_are_identical_for_jobs_1_and_2(compared):
    one, two, _ = compared
    assert rows_without_time(one) == rows_without_time(two)


def test_rerun_resumes_and_another_comparison_is_refused(compared, tiny_data):
    one = compared[0]
    before = (one / "member-3.npz").read_bytes()
    run(one, tiny_data, "--jobs", "1", "--vary", "optimizer=sgd,adam", "--vary", "epochs=1,2")
    assert (one / "member-3.npz").read_bytes() == before
    result = invoke([*BASE, "--data-dir", tiny_data, "--out", one, "--vary", "optimizer=sgd"])
    assert_refused(result, one)
