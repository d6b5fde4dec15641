"""train-ensemble --scheduler: members as Dask tasks, bit-identical to the loky backend, a worker
lost mid-run, failed members listed, and a clear message without Dask.

The tests that need a cluster are skipped only when dask[distributed] is not installed; CI
installs it (the test extra brings dask). They compare against the session's tiny ensemble
(conftest `models`, trained with the default loky backend and the same settings).
"""
import importlib.util
import json
import logging
import sys

import numpy as np
import pytest

import nnlib as nn
from contest.train.member import INTERRUPT_ENV
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


@needs_dask
def test_a_worker_lost_mid_run_is_replaced_and_its_member_retried(monkeypatch, models, tiny_data,
                                                                  tmp_path):
    from contest.train import cluster as dask_cluster

    monkeypatch.setattr(dask_cluster, "available_cores", lambda: 2)  # --scheduler local: 2 workers
    marker = tmp_path / "killed"
    out = tmp_path / "dask"
    result = train(out, tiny_data, "--scheduler", "local",
                   env={dask_cluster.KILL_ENV: f"1:{marker}"})
    assert result.exit_code == 0, result.output
    assert marker.exists()  # member 1's first attempt did end its worker process
    assert_same_members(models, out)
    assert json.loads((out / "ensemble.json").read_text())["n"] == 2


@needs_dask
def test_members_that_keep_failing_are_listed_and_the_others_kept(cluster, tiny_data, tmp_path):
    out = tmp_path / "dask"
    # member 1 raises in its first batch on every attempt (the first and the Dask retries)
    result = train(out, tiny_data, "--scheduler", cluster.scheduler_address, "--quiet",
                   env={INTERRUPT_ENV: "1:0:0"})
    assert_refused(result, "member 1: SimulatedInterruption")
    assert "1 member(s) failed on the Dask cluster" in result.output
    assert (out / "member-0.npz").exists() and not (out / "member-1.npz").exists()
    assert not (out / "ensemble.json").exists()


@needs_dask
def test_an_unreachable_scheduler_is_refused(monkeypatch, tiny_data, tmp_path):
    from contest.train import cluster as dask_cluster

    monkeypatch.setattr(dask_cluster, "CONNECT_TIMEOUT", "1s")
    result = train(tmp_path / "m", tiny_data, "--scheduler", "tcp://127.0.0.1:9")
    assert_refused(result, "cannot reach the Dask scheduler at tcp://127.0.0.1:9")


def test_without_dask_the_scheduler_option_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    out = tmp_path / "m"
    result = invoke(["train-ensemble", "--scheduler", "local", "--out", out])
    assert_refused(result, 'pip install "contest[dask]"', [out])
