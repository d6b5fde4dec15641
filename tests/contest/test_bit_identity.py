"""Behaviour pinned across refactors: digests of weights and predictions recorded from the code
before the redesign (tests/contest/bit_identity.json). A change that moves these numbers must say
why in its commit (a kernel that sums in another order) and show accuracy unchanged, then record
the new digests, which a failing assertion prints, in the JSON file.

The digests are computed by pinned_digests.py in a process of its own that runs OpenBLAS's
Haswell kernels, the ones they were recorded with: OpenBLAS picks other kernels on other CPUs
(SkylakeX on an AVX-512 machine), and those round the same products differently. That the
results do not depend on the thread count or --jobs is also checked on this machine's own
kernels, here and in test_contest_train.py."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pinned_digests import blas_kernels, weights_after_steps

HERE = Path(__file__).parent
RECORD = HERE / "bit_identity.json"
PINNED_KERNELS = "Haswell"


def cpu_runs_haswell_kernels():
    """True where OpenBLAS's Haswell kernels can run: an x86-64 CPU with AVX2 and FMA."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return False
    return {"avx2", "fma"} <= set(flags)


@pytest.fixture(scope="module")
def recorded():
    return json.loads(RECORD.read_text())


@pytest.fixture(scope="module")
def computed(tiny_data, tmp_path_factory):
    if not cpu_runs_haswell_kernels():
        pytest.skip("the pinned digests need OpenBLAS's Haswell kernels (x86-64 with AVX2 "
                    "and FMA, read from /proc/cpuinfo), which this CPU cannot run")
    if not blas_kernels():   # asked here, before the subprocess spends its time
        pytest.skip("NumPy's BLAS here is not OpenBLAS, whose Haswell kernels the pinned "
                    "digests were recorded with")
    env = {**os.environ, "OPENBLAS_CORETYPE": PINNED_KERNELS}
    work = tmp_path_factory.mktemp("pinned")
    run = subprocess.run([sys.executable, str(HERE / "pinned_digests.py"), str(tiny_data),
                          str(work)], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["kernels"] == [PINNED_KERNELS], result["kernels"]
    return result


@pytest.mark.parametrize("arch", ["a", "b", "d"])
def test_weights_after_a_few_steps_are_unchanged(recorded, computed, arch):
    assert computed["steps"][arch] == recorded["steps"][arch]


def test_two_threads_give_the_same_weights(recorded, computed):
    assert computed["steps_d_two_threads"] == recorded["steps"]["d"]


def test_two_threads_give_the_same_weights_on_this_machines_kernels():
    assert weights_after_steps("b", threads=2) == weights_after_steps("b", threads=1)


def test_tiny_train_ensemble_and_its_predictions_are_unchanged(recorded, computed):
    assert computed["ensemble_weights"] == recorded["ensemble_weights"]
    assert computed["ensemble_proba"] == recorded["ensemble_proba"]
