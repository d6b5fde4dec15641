"""nnlib's automatic thread count: NNLIB_NUM_THREADS, else OMP_NUM_THREADS, else the cores;
BLAS held at one thread while a Sequential's passes run, and restored. And a plain script training
a per-sample network on the default threads (helper processes when there are several) finishes and
leaves no process behind."""
import os
import subprocess
import sys
import textwrap

import pytest


def run_python(code, **env_vars):
    env = {k: v for k, v in os.environ.items()
           if k not in ("NNLIB_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    env.update(env_vars)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, text=True,
                          capture_output=True, timeout=120)


def default_threads(**env_vars):
    result = run_python("import nnlib; print(nnlib.get_num_threads())", **env_vars)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def test_the_default_is_the_cores_this_process_may_run_on_whatever_blas_has():
    cores = len(os.sched_getaffinity(0))
    assert default_threads(OPENBLAS_NUM_THREADS="1") == cores
    assert default_threads(OPENBLAS_NUM_THREADS="2") == cores


def test_passes_hold_blas_at_one_thread_and_restore_it():
    code = """
        import numpy as np
        import nnlib as nn
        from nnlib.runtime.blas import blas_threads
        seen = []

        class Probe(nn.ReLU):
            def forward(self, x, training=False):
                seen.append(blas_threads())
                return super().forward(x, training)

        model = nn.Sequential([nn.Flatten(), nn.Dense(4, 3, rng=np.random.default_rng(0)),
                               Probe()])
        model.forward(np.ones((2, 4), np.float32))
        print(blas_threads(), *seen)
    """
    result = run_python(code, OPENBLAS_NUM_THREADS="2")
    assert result.stdout.split() == ["2", "1"], result.stderr


@pytest.mark.parametrize("env_vars,expected", [
    ({"NNLIB_NUM_THREADS": "3"}, 3),
    ({"NNLIB_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "2"}, 3),
    ({"OMP_NUM_THREADS": "4,2", "OPENBLAS_NUM_THREADS": "1"}, 4),
    ({"NNLIB_NUM_THREADS": "2", "OMP_NUM_THREADS": "5"}, 2),
])
def test_the_usual_environment_variables_set_the_count(env_vars, expected):
    assert default_threads(**env_vars) == expected


@pytest.mark.parametrize("bad", ["0", "-2", "many", ""])
def test_values_that_are_not_positive_integers_are_skipped(bad):
    assert default_threads(NNLIB_NUM_THREADS=bad, OMP_NUM_THREADS="3",
                           OPENBLAS_NUM_THREADS="1") == 3


def test_set_num_threads_still_asks_for_fewer():
    result = run_python("import nnlib; nnlib.set_num_threads(1); print(nnlib.get_num_threads())",
                        NNLIB_NUM_THREADS="4")
    assert result.stdout.strip() == "1"


def test_a_plain_script_trains_on_default_threads_and_leaves_no_helper_behind():
    script = """
        import multiprocessing
        import numpy as np
        import nnlib as nn
        rng = np.random.default_rng(0)
        model = nn.Sequential([nn.Conv2D(1, 4, 3, padding=1, rng=rng), nn.ReLU(),
                               nn.MaxPool2D(2), nn.Flatten(), nn.Dense(64, 10, rng=rng)])
        loss, opt = nn.SoftmaxCrossEntropy(), nn.Adam(model.parameters())
        x, y = rng.random((96, 1, 8, 8), dtype=np.float32), rng.integers(0, 10, 96)
        for _ in range(2):
            loss.forward(model.forward(x, training=True), y)
            model.backward(loss.backward())
            opt.step()
            opt.zero_grad()
        print(nn.get_num_threads(), *[p.pid for p in multiprocessing.active_children()])
    """
    result = run_python(script, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="2")
    assert result.returncode == 0, result.stderr
    threads, *helpers = [int(v) for v in result.stdout.split()]
    assert threads == 2 and helpers   # it did train in blocks on a helper process
    for pid in helpers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
