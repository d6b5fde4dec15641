"""contest evaluate --robustness / --variants / --seed on the session's tiny ensemble: the table
equals contest.evaluate.variants computed directly, the closing lines, the PNG report, bad
inputs."""
import re

import numpy as np
import pytest
from PIL import Image

from contest.evaluate import variants
from contest.modeldir.ensemble import load_ensemble
from contest_testutil import assert_refused, invoke

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def ok(args):
    result = invoke(args)
    assert result.exit_code == 0, result.output
    return result.output


def direct_table(models, tiny_test, seed=0, names=None):
    """robustness_table of the session ensemble, computed without the CLI."""
    ensemble = load_ensemble(models)

    def prob_fn(images):
        mean, members = ensemble.predict_proba(images)
        return list(members), mean
    return variants.robustness_table(prob_fn, *tiny_test, seed=seed, names=names)


@pytest.fixture(scope="module")
def robust_run(models, tmp_path_factory):
    """(output, report path) of `evaluate --robustness --report` on the tiny test set."""
    report = tmp_path_factory.mktemp("robust") / "r.png"
    return ok(["evaluate", "--models", models, "--robustness", "--report", report]), report


def test_table_has_a_row_per_variant_and_member_columns(robust_run):
    text = robust_run[0]
    header = re.search(r"^variant +m1 +m2 +mean +ensemble$", text, re.M)
    assert header, text
    for name in ["clean", *variants.VARIANTS]:
        assert re.search(rf"^{name} +(\d+\.\d\d +){{3}}\d+\.\d\d$", text, re.M), name


def test_table_equals_robustness_table_computed_directly(robust_run, models, tiny_test):
    table = direct_table(models, tiny_test)
    assert variants.format_table(table) in robust_run[0]
    ensemble_column = {m.group(1): float(m.group(2)) for m in
                       re.finditer(r"^(\w+) .* (\d+\.\d\d)$", robust_run[0], re.M)}
    for name, row in table.items():
        assert ensemble_column[name] == pytest.approx(100 * row["ensemble"], abs=0.005)


def test_closing_lines(robust_run, models, tiny_test):
    table = direct_table(models, tiny_test)
    behind = [n for n, row in table.items() if not row["ensemble"] > row["mean_member"]]
    verdict = "yes" if not behind else "no (not on " + ", ".join(behind) + ")"
    assert f"mean member on the clean set and every variant: {verdict}\n" in robust_run[0]
    worst = min(variants.VARIANTS, key=lambda n: table[n]["ensemble"])
    line = re.search(r"lowest ensemble accuracy over variants: (\d+\.\d\d) % \((\w+)\)",
                     robust_run[0])
    assert float(line.group(1)) == pytest.approx(100 * table[worst]["ensemble"], abs=0.005)
    assert table[line.group(2)]["ensemble"] == table[worst]["ensemble"]


def test_report_has_the_table_and_a_variant_grid(robust_run, tmp_path, models):
    report = robust_run[1]
    grid = report.with_name("r-variants.png")
    assert f"saved {report} and {grid}" in robust_run[0]
    assert report.read_bytes()[:8] == PNG_MAGIC and grid.read_bytes()[:8] == PNG_MAGIC
    ok(["evaluate", "--models", models, "--report", tmp_path / "plain.png"])
    with Image.open(report) as rich, Image.open(tmp_path / "plain.png") as plain:
        assert rich.size[1] > plain.size[1] + 300  # the robustness panel below the matrix
    with Image.open(grid) as image:
        assert image.size[1] > 13 * 60  # clean + 12 variant rows


def test_variants_and_seed_select_rows_and_draws(models, tiny_test):
    text = ok(["evaluate", "--models", models, "--variants", "shift,line", "--seed", 5])
    expected = direct_table(models, tiny_test, seed=5, names=["shift", "line"])
    assert variants.format_table(expected) in text
    assert not re.search(r"^rotate ", text, re.M)


@pytest.mark.parametrize("args, name", [
    (["--robustness", "--seed", "-1"], "--seed"),
    (["--robustness", "--seed", "abc"], "--seed"),
    (["--variants", "shift,nope"], "'nope'"),
    (["--variants", ","], "--variants"),
])
def test_bad_robustness_options_are_refused_in_one_line(models, args, name):
    assert_refused(invoke(["evaluate", "--models", models, *args]), name)


def test_bad_report_paths_are_refused_before_work(models, tmp_path):
    assert_refused(invoke(["evaluate", "--models", models, "--robustness", "--report",
                           tmp_path / "r.txt"]), "r.txt", [tmp_path / "r.txt"])
    (tmp_path / "x-variants.png").mkdir()
    assert_refused(invoke(["evaluate", "--models", models, "--robustness", "--report",
                           tmp_path / "x.png"]), "x-variants.png", [tmp_path / "x.png"])


def test_float_images_are_rounded_for_the_variants(models, exported, tmp_path):
    images = np.load(exported[0])
    np.save(tmp_path / "f.npy", images.astype(np.float32) / 255)
    as_float = ok(["evaluate", "--models", models, "--images", tmp_path / "f.npy", "--labels",
                   exported[1], "--variants", "blur"])
    as_uint8 = ok(["evaluate", "--models", models, "--images", exported[0], "--labels",
                   exported[1], "--variants", "blur"])
    table = re.compile(r"^variant .*\n.*\n.*$", re.M)
    assert table.search(as_float).group() == table.search(as_uint8).group()
