"""Every `sh` and `python` block of README.md and docs/*.md runs, page by page, as a reader would.

A page's blocks run in order in one fresh directory, so files an earlier block writes are there
for the later ones; `sh` blocks in bash with `-e -o pipefail` (any failing command fails the
block), `python` blocks in one interpreter per page (tests/docs_python.py), in one namespace.
The directory holds links to the checkout's benchmarks/ and scripts/, as a checkout would. What
a block runs instead of its long parts is declared above it in the page (tests/docblocks.py,
docs/CONTRIBUTING.md).
"""
import os
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from docblocks import MarkError, read_blocks
from docs_python import PythonPage

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md"] + sorted(f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md"))
CHECKOUT_LINKS = ("benchmarks", "scripts")
TINY_ENSEMBLE = ["--n", "2", "--preset", "fast", "--arch", "e", "--epochs", "1"]  # e: BatchNorm
TINY_TRAIN, TINY_TEST = 600, 500
BLOCK_TIMEOUT = 180          # seconds; a block is a few commands on small data
READY_TIMEOUT = 60


def _env(port, models):
    env = dict(os.environ, DOCS_PORT=str(port), DOCS_MODELS=str(models), MPLBACKEND="Agg")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def docs_models(tmp_path_factory):
    """The tiny ensemble the pages' marks copy in place of a full training: arch e (BatchNorm,
    as the default's, for docs/adapt.md), trained on MNIST's first 600 training images, its test
    set MNIST's first 500 test images (so that `contest evaluate` on it is quick)."""
    from contest.data import datasets

    directory = tmp_path_factory.mktemp("docs-ensemble")
    (x_train, y_train), (x_test, y_test) = (datasets.load_split(kind) for kind in ("train", "test"))
    np.savez(directory / "tiny-mnist.npz", x_train=x_train[:TINY_TRAIN],
             y_train=y_train[:TINY_TRAIN], x_test=x_test[:TINY_TEST], y_test=y_test[:TINY_TEST])
    out = directory / "models"
    result = subprocess.run([sys.executable, "-m", "contest", "train-ensemble", *TINY_ENSEMBLE,
                             "--data", str(directory / "tiny-mnist.npz"),
                             "--test", str(directory / "tiny-mnist.npz"), "--quiet",
                             "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return out


def _report(block, code, output=""):
    return (f"{block.where()}: the {block.language} block failed\n--- ran:\n{code}\n"
            f"--- output:\n{output}")


def _run_sh(block, code, env, directory):
    try:
        result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code], env=env,
                                cwd=directory,
                                capture_output=True, text=True, timeout=BLOCK_TIMEOUT,
                                start_new_session=True)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(_report(block, code, f"timed out after {exc.timeout} s"))
    if result.returncode != 0:
        pytest.fail(_report(block, code, (result.stdout + result.stderr)[-4000:]))


def _run_python(block, code, interpreter):
    error = interpreter.run(code, block.where(), BLOCK_TIMEOUT)
    if error is not None:
        pytest.fail(_report(block, code, interpreter.output()[-2000:] + error))


def _start_background(block, code, env, log_path):
    """Start the block in a session of its own; return the process once its URL answers."""
    url = string.Template(block.background).safe_substitute(env)
    log = open(log_path, "w")
    process = subprocess.Popen(["bash", "-e", "-c", code], env=env, stdout=log, cwd=log_path.parent,
                               stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    _stop(process)
    pytest.fail(_report(block, code, f"{url} never answered 200\n" + log_path.read_text()[-4000:]))


def _stop(process):
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_page(page, directory, env):
    """Run the blocks of `page` that run, in `directory`; background blocks stop at the end."""
    blocks = read_blocks((ROOT / page).read_text(encoding="utf-8"), page)
    for name in CHECKOUT_LINKS:
        (directory / name).symlink_to(ROOT / name)
    background, interpreter = [], None
    try:
        for number, block in enumerate(b for b in blocks if b.runs):
            code = block.code_to_run()
            if block.background:
                background.append(_start_background(block, code, env,
                                                    directory / f".background-{number}.log"))
            elif block.language == "sh":
                _run_sh(block, code, env, directory)
            else:
                interpreter = interpreter or PythonPage(directory, env, directory / ".python.log")
                _run_python(block, code, interpreter)
    finally:
        if interpreter is not None:
            interpreter.close()
        for process in background:
            _stop(process)


@pytest.mark.parametrize("page", PAGES)
def test_page_runs(page, tmp_path, docs_models):
    run_page(page, tmp_path, _env(_free_port(), docs_models))


def test_marks_are_read():
    text = ('<!-- docs-test: replace "--n 5" "--n 2" -->\n'
            '<!-- docs-test: background http://127.0.0.1:$DOCS_PORT/health -->\n'
            '```sh\ncontest serve --n 5\n```\n\n<!-- docs-test: skip a full training -->\n'
            '```python\nprint(1)\n```\n```json\n{}\n```\n')
    first, second, third = read_blocks(text, "page.md")
    assert (first.line, first.language, first.code_to_run()) == (3, "sh", "contest serve --n 2\n")
    assert first.background == "http://127.0.0.1:$DOCS_PORT/health" and first.runs
    assert (second.skip, second.runs) == ("a full training", False)
    assert third.language == "json" and not third.runs


@pytest.mark.parametrize("text, words", [
    ('<!-- docs-test: replace "absent" "x" -->\n```sh\nls\n```\n', "'absent' does not occur"),
    ('<!-- docs-test: skip -->\n```sh\nls\n```\n', "skip needs a reason"),
    ('<!-- docs-test: run-twice -->\n```sh\nls\n```\n', "unknown docs-test mark 'run-twice'"),
    ('<!-- docs-test: skip why -->\nSome text.\n```sh\nls\n```\n', "right above a code block"),
    ('<!-- docs-test: skip why -->\n```json\n{}\n```\n', "above a json block"),
    ('```sh\nls\n', "never closed"),
])
def test_bad_marks_are_refused(text, words):
    with pytest.raises(MarkError, match=words):
        [block.code_to_run() for block in read_blocks(text, "page.md")]


def _documented_keys(page, heading):
    """The `key` names in the first column of the table under `heading` of docs/`page`."""
    text = (ROOT / "docs" / page).read_text(encoding="utf-8").split(heading, 1)[1]
    rows = [line for line in text.split("\n## ", 1)[0].splitlines() if line.startswith("| `")]
    return {name.strip() for row in rows
            for name in row.split("|")[1].replace("`", "").split(", ")}


def test_model_directory_page_lists_every_manifest_key(docs_models):
    import json

    manifest = json.loads((docs_models / "ensemble.json").read_text())
    documented = _documented_keys("model-directory.md", "## ensemble.json")
    assert set(manifest) <= documented, set(manifest) - documented
    data_row = (ROOT / "docs" / "model-directory.md").read_text().split("| `data` |")[1]
    absent = [key for key in manifest["data"] if f"`{key}`" not in data_row.split("\n")[0]]
    assert not absent, f"data keys not described: {absent}"


def test_presets_page_gives_what_large_changes():
    """docs/presets.md's row for `large` names each value in which it differs from `default`."""
    from contest.train.presets import PRESETS

    row = next(line for line in (ROOT / "docs" / "presets.md").read_text().splitlines()
               if line.startswith("| `large` |"))
    large, default = PRESETS["large"], PRESETS["default"]
    assert large.lr != default.lr and f"{large.lr:.0e}".replace("e-0", "e-") in row
    assert f"{large.epochs} |" in row
    blur = large.augment["pixel"]["p_blur"]
    assert blur != default.augment["pixel"]["p_blur"]
    assert f"blur on {blur:.0%}".replace("%", " %") in row


def test_readme_is_short_and_starts_with_the_two_commands():
    """README.md stays a page for users (history and per-run figures live in docs/), and its
    first block installs, trains and evaluates, then installs and runs the tests."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 160
    first = read_blocks(text, "README.md")[0]
    assert first.line <= 2 and first.language == "sh"
    install, tests = first.code.splitlines()
    assert "pip install ." in install and "contest train-ensemble" in install
    assert install.endswith("contest evaluate")
    assert 'pip install -e ".[test]"' in tests and tests.endswith("python -m pytest -q")
