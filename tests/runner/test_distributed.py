"""The same lot on local processes and on a Dask LocalCluster (2 workers, loopback), for chunk sizes 1, 7,
1000 and whole files: byte-identical results.json. A worker killed mid-run, or `cgtqc run` killed midway and
run again, leaves the results unchanged and the lot without duplicated rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from cgtqc.runner.lot_run import run_lot
from cgtqc.runner.scaffold import scaffold
from cgtqc.runner.schedulers import DaskScheduler
from cgtqc.store.db import session_scope
from cgtqc.store.models import Result

from .conftest import PASSWORD, fresh_db

# the chunked sequencing tests of an edited-HSC lot, small, plus one plate test
KEEP = ("editing-edited_alleles_pct", "editing-large_deletion_pct", "endotoxin-endotoxin")
TRUTH = {"editing-edited_alleles_pct": {"n_reads": 150}, "editing-large_deletion_pct": {"n_reads": 40}}


@pytest.fixture(scope="module")
def seq_lot(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("seq") / "lot"
    scaffold("crispr_hsc", folder, lot="ED-T1", simulate=True, seed=3, truth=TRUTH)
    doc = yaml.safe_load((folder / "lot.yaml").read_text())
    doc["tests"] = [t for t in doc["tests"] if t["id"] in KEEP]
    assert len(doc["tests"]) == len(KEEP)
    (folder / "lot.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


def _results(out: Path) -> str:
    return (out / "results.json").read_text()


def _rows(db: str) -> list[tuple]:
    with session_scope(db) as s:
        return sorted((r.cqa, r.stage, r.value) for r in s.execute(select(Result)).scalars())


@pytest.fixture(scope="module")
def baseline(seq_lot, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("base")
    url = fresh_db(out)  # the db fixture's set-up, for a module-scoped baseline
    run = run_lot(seq_lot, db_url=url, user="alice", password=PASSWORD, out=out / "out", chunk_reads=0)
    assert not run.failed, [t.error for t in run.failed]
    return _results(out / "out")


def test_chunk_sizes_and_schedulers_give_identical_results(seq_lot, baseline, tmp_path):
    with DaskScheduler(workers=2) as dask:
        for size in (1, 7, 1000, 0):
            out = tmp_path / f"dask-{size}"
            run = run_lot(seq_lot, db_url=fresh_db(tmp_path / f"db-{size}"), user="alice",
                          password=PASSWORD, out=out, scheduler=dask, chunk_reads=size)
            assert not run.failed, [t.error for t in run.failed]
            assert _results(out) == baseline, f"chunk size {size} on Dask differs"
    out = tmp_path / "local-7"
    run_lot(seq_lot, db_url=fresh_db(tmp_path / "db-local"), user="alice", password=PASSWORD, out=out,
            scheduler="local", chunk_reads=7)
    assert _results(out) == baseline


def test_a_worker_killed_mid_run_leaves_the_result_unchanged(seq_lot, baseline, tmp_path):
    out = tmp_path / "out"
    url = fresh_db(tmp_path / "db")
    with DaskScheduler(workers=2) as dask:
        pids = dask.client.run(os.getpid)  # worker address -> process id
        done: dict = {}
        t = threading.Thread(target=lambda: done.setdefault("run", run_lot(
            seq_lot, db_url=url, user="alice", password=PASSWORD, out=out, scheduler=dask, chunk_reads=3)))
        t.start()
        deadline = time.time() + 120
        while time.time() < deadline and not list((out / ".cache").glob("*/*.pkl")):
            time.sleep(0.05)
        assert list((out / ".cache").glob("*/*.pkl")), "no chunk finished"
        os.kill(next(iter(pids.values())), signal.SIGKILL)  # the nanny restarts it; its tasks are rerun
        t.join(timeout=300)
        assert not t.is_alive()
    assert not done["run"].failed, [x.error for x in done["run"].failed]
    assert _results(out) == baseline


def test_killed_run_resumes_without_duplicates(seq_lot, baseline, tmp_path):
    out = tmp_path / "out"
    url = fresh_db(tmp_path / "db")
    db_file = tmp_path / "db" / "cgtqc.db"
    env = {**os.environ, "CGTQC_PASSWORD": PASSWORD}
    cmd = [sys.executable, "-m", "cgtqc", "run", str(seq_lot), "--db", str(db_file), "--out", str(out),
           "-u", "alice", "--quiet", "--chunk-reads", "2"]
    p = subprocess.Popen(cmd, env=env, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / ".cache").glob("*/*.pkl"))) < 3 and p.poll() is None:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)  # the command and its worker processes, mid-run
    p.wait()
    partial = len(list((out / ".cache").glob("*/*.pkl")))
    assert partial >= 1
    p2 = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert p2.returncode == 0, p2.stderr
    assert _results(out) == baseline
    rows = _rows(url)
    assert len(rows) == len({(c, s) for c, s, _ in rows})  # no duplicated result rows
    subprocess.run(cmd, env=env, check=True, capture_output=True)  # and a third run changes nothing
    assert _rows(url) == rows


def test_an_existing_scheduler_by_address(seq_lot, baseline, tmp_path):
    # `--scheduler tcp://HOST:PORT`: the plan goes to a Dask scheduler the runner did not start
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        out = tmp_path / "out"
        run = run_lot(seq_lot, db_url=fresh_db(tmp_path / "db"), user="alice", password=PASSWORD,
                      out=out, scheduler=cluster.scheduler_address, chunk_reads=50)
        assert run.scheduler == f"dask {cluster.scheduler_address}"
    assert not run.failed and _results(out) == baseline


class _CancelsTheFirstTask(DaskScheduler):
    """A real cluster on which the first task is cancelled, as Dask cancels a lost worker's forgotten task."""

    cancelled = False

    def submit(self, fn, *args, key):
        fut = super().submit(fn, *args, key=key)
        if not self.cancelled:
            self.cancelled = True
            self.client.cancel(fut)
        return fut


def test_a_task_the_cluster_cancels_is_submitted_again(seq_lot, baseline, tmp_path):
    out = tmp_path / "out"
    with _CancelsTheFirstTask(workers=2) as dask:
        run = run_lot(seq_lot, db_url=fresh_db(tmp_path / "db"), user="alice", password=PASSWORD, out=out,
                      scheduler=dask, chunk_reads=3)
        assert dask.cancelled
    assert not run.failed, [t.error for t in run.failed]
    assert _results(out) == baseline
