"""Fixtures of the adaptation tests: a tiny ensemble with BatchNorm layers (arch e; the shared
`models` fixture is arch a, which has none) trained once per session on the tiny data."""
import pytest

from contest_testutil import train


@pytest.fixture(scope="session")
def bn_models(tmp_path_factory, tiny_data):
    """Model directory of 2 arch-e members, 2 epochs on 270 images (+30 for validation)."""
    out = tmp_path_factory.mktemp("bn-ensemble") / "models"
    result = train(out, tiny_data, "--arch", "e", "--jobs", "1", "--quiet")
    assert result.exit_code == 0, result.output
    return out
