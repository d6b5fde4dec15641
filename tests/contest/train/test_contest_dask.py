"""train-ensemble --scheduler: members as Dask tasks, bit-identical to the loky backend, a worker
lost mid-run, failed members listed, and a clear message without Dask.

The tests that need a cluster are skipped only when dask[distributed] is not installed; CI
installs it (the test extra brings dask). They compare against the session's tiny ensemble
(conftest `models`, trained with the default loky backend and the same settings).
"""
import importlib.util
import json
import logging
import os
import sys

import numpy as np
import pytest

import nnlib as nn
from contest.train import cluster as dask_cluster
from contest_testutil import assert_refused, invoke, train

needs_dask = pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                                reason='dask not installed: pip install -e ".[test,dask]"')


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 single-threaded worker processes."""
    import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.ERROR) as cluster:
        yield cluster


def assert_same_members(dir_a, dir_b, n=2):
    for k in range(n):
        a = nn.load(dir_a / f"member-{k}.npz").state_dict()
        b = nn.load(dir_b / f"member-{k}.npz").state_dict()
        assert a.keys() == b.keys()
        for name in a:
            assert np.array_equal(a[name], b[name]), f"member {k} weight {name} differs"


@needs_dask
def test_members_trained_on_a_cluster_equal_the_loky_ones(cluster, models, tiny_data, tmp_path):
    out = tmp_path / "dask"
    result = train(out, tiny_data, "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    assert_same_members(models, out)
    manifest = json.loads((out / "ensemble.json").read_text())
    assert manifest["backend"] == "dask" and manifest["jobs"] == 2
    assert [m["resumed"] for m in manifest["members"]] == [False, False]
    assert "member 0: ep 2/2" in result.output and "member 1: ep 2/2" in result.output
    assert "2/2 done" in result.output and "ensemble test accuracy:" in result.output
    assert not list(out.glob("*.ckpt.npz")) and not (out / ".progress").exists()


def replace_task(monkeypatch, task):
    """Submit `task(job, settings)` instead of the real member task. A function defined inside a
    test is sent to the workers by value (cloudpickle), so this reaches other processes too."""
    monkeypatch.setattr(dask_cluster, "train_remote", task)


@needs_dask
def test_a_worker_lost_mid_run_is_replaced_and_its_member_retried(monkeypatch, models, tiny_data,
                                                                  tmp_path):
    monkeypatch.setattr(dask_cluster, "available_cores", lambda: 2)  # --scheduler local: 2 workers
    marker, real_task = str(tmp_path / "killed"), dask_cluster.train_remote

    def dies_once(job, settings):
        # the first attempt at member 1 ends its worker process abruptly, like a machine lost
        if job.index == 1 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)
        return real_task(job, settings)
    replace_task(monkeypatch, dies_once)
    out = tmp_path / "dask"
    result = train(out, tiny_data, "--scheduler", "local")
    assert result.exit_code == 0, result.output
    assert os.path.exists(marker)  # member 1's first attempt did end its worker process
    assert_same_members(models, out)
    assert json.loads((out / "ensemble.json").read_text())["n"] == 2


@needs_dask
def test_members_that_keep_failing_are_listed_and_the_others_kept(monkeypatch, cluster, tiny_data,
                                                                  tmp_path):
    real_task, attempts = dask_cluster.train_remote, str(tmp_path / "attempts")

    def member_1_fails(job, settings):
        # member 1 raises on every attempt (the first and the Dask retries), counted in a file
        if job.index == 1:
            with open(attempts, "a") as log:
                log.write("x")
            raise RuntimeError("simulated failure")
        return real_task(job, settings)
    replace_task(monkeypatch, member_1_fails)
    out = tmp_path / "dask"
    result = train(out, tiny_data, "--scheduler", cluster.scheduler_address, "--quiet")
    assert_refused(result, "member 1: RuntimeError: simulated failure")
    with open(attempts) as log:
        assert log.read() == "x" * (1 + dask_cluster.RETRIES)
    assert "1 member(s) failed on the Dask cluster" in result.output
    assert (out / "member-0.npz").exists() and not (out / "member-1.npz").exists()
    assert not (out / "ensemble.json").exists()


@needs_dask
def test_an_unreachable_scheduler_is_refused(monkeypatch, tiny_data, tmp_path):
    monkeypatch.setattr(dask_cluster, "CONNECT_TIMEOUT", "1s")
    result = train(tmp_path / "m", tiny_data, "--scheduler", "tcp://127.0.0.1:9")
    assert_refused(result, "cannot reach the Dask scheduler at tcp://127.0.0.1:9")


def test_without_dask_the_scheduler_option_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    out = tmp_path / "m"
    result = invoke(["train-ensemble", "--scheduler", "local", "--out", out])
    assert_refused(result, 'pip install "contest-cnn[dask]"', [out])
