"""Every benchmark script has a complete `--help`: its description ends a sentence, every option
says what it does; and a bad option ends in one line `Error: ...` with exit status 2."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(path.name for path in BENCHMARKS.glob("*.py")
                 if '__name__ == "__main__"' in path.read_text())
OPTION = re.compile(r"^  (-\S+|[a-z_]+\b)")      # an option or positional entry of the help


def _help(script):
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def undocumented(text):
    """The options and positionals in an argparse help text that have no help of their own."""
    entries, current = [], None
    for line in text.split("\noptions:\n", 1)[-1].splitlines() + \
            text.split("\npositional arguments:\n", 1)[-1].split("\n\n")[0].splitlines():
        if OPTION.match(line):
            name, _, rest = line.strip().partition("  ")
            current = [name, rest.strip()]
            entries.append(current)
        elif current is not None and line.startswith("      "):
            current[1] += line.strip()
    return [name for name, help_text in entries if not help_text and name != "-h, --help"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_is_complete(script):
    text = _help(script)
    description = text.split("\n\n", 1)[1].split("\noptions:")[0].split("\npositional")[0]
    last = description.strip().splitlines()[-1].strip()
    assert last.endswith((".", ")")) or last.startswith("python "), description[-200:]
    assert not undocumented(text), undocumented(text)


def test_undocumented_options_are_found():
    text = ("usage: x\n\nWhat x does.\n\noptions:\n  -h, --help  show this help\n"
            "  --seed SEED\n  --arch ARCH  the network\n  --long-name LONG_NAME\n"
            "                        said on the next line\n")
    assert undocumented(text) == ["--seed SEED"]


def test_an_unknown_recipe_is_one_line():
    result = subprocess.run([sys.executable, str(BENCHMARKS / "recipe_trial.py"), "--data",
                             "unused", "--recipe", "foo"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: --recipe: unknown recipe 'foo'")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_input_is_one_line():
    result = subprocess.run([sys.executable, str(BENCHMARKS / "trial_vote.py"), "missing.npz"],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (2, "Error: missing.npz: no such model file\n")
