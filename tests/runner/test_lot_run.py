"""`cgtqc run` on a scaffolded lot: every test runs, results are stored once, re-runs use the cache, a
changed input becomes a new version with a reason, a failing engine is named and the others complete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from cgtqc.errors import PermissionDenied
from cgtqc.runner.lot_run import run_lot
from cgtqc.store.db import session_scope
from cgtqc.store.models import AuditEntry, Result

from .conftest import PASSWORD


def _rows(db: str) -> list[tuple]:
    with session_scope(db) as s:
        return [(r.cqa, r.stage, r.value) for r in s.execute(select(Result).order_by(Result.id)).scalars()]


def test_run_stores_judges_and_reports(lot_dir, db):
    run = run_lot(lot_dir, db_url=db, user="alice", password=PASSWORD, scheduler="local")
    assert not run.failed, [t.error for t in run.failed]
    doc = json.loads((lot_dir / "out" / "results.json").read_text())
    truth = json.loads((lot_dir / "truth.json").read_text())
    by_cqa = {m["cqa"]: m for t in doc["tests"] for m in t["measurements"] if m["stored"]}
    endotoxin = by_cqa["endotoxin"]
    true_eu = truth["endotoxin-endotoxin"]["eu_per_ml"]
    assert endotoxin["verdict"] in ("pass", "oot") and abs(endotoxin["value"] - true_eu) < 0.15 * true_eu
    assert by_cqa["mycoplasma"]["value"] == "Not detected"
    assert by_cqa["mycoplasma"]["provenance"]["engine"] == "qpcr"  # the NAT the specification names
    for m in by_cqa.values():
        for f in m["provenance"]["inputs"]:
            assert Path(f["path"]).is_file()
    rows = _rows(db)
    assert len(rows) == len(by_cqa)  # one row per served CQA
    html = (lot_dir / "out" / "dossier.html").read_text()
    assert "Verdicts" in html and "endotoxin-endotoxin" in html and "<img" in html
    assert (lot_dir / "out" / "coa-draft.pdf").read_bytes()[:5] == b"%PDF-"

    again = run_lot(lot_dir, db_url=db, user="alice", password=PASSWORD)
    assert all(t.cached for t in again.tests if not t.test.manual)
    assert _rows(db) == rows  # a re-run never duplicates a row
    assert (lot_dir / "out" / "results.json").read_text() == json.dumps(doc, indent=2, sort_keys=True,
                                                                         ensure_ascii=False)


def test_changed_input_is_a_new_version_with_a_reason(lot_dir, db):
    run_lot(lot_dir, db_url=db, user="alice", password=PASSWORD)
    path = lot_dir / "lot.yaml"
    doc = yaml.safe_load(path.read_text())
    test = next(t for t in doc["tests"] if t.get("engine") == "endotoxin")
    test["params"]["ppc_recovery_min_pct"] = 40.0  # a different criterion: the test is recomputed
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    before = _rows(db)
    rerun = run_lot(lot_dir, db_url=db, user="alice", password=PASSWORD)
    recomputed = [t.test.id for t in rerun.tests if not t.cached and not t.test.manual]
    assert recomputed == [test["id"]]
    assert len(_rows(db)) == len(before)
    with session_scope(db) as s:
        reasons = [a.reason for a in s.execute(select(AuditEntry)).scalars()]
    assert any("re-run of cgtqc run" in (r or "") and test["id"] in r for r in reasons)


def test_a_failing_engine_is_named_and_the_others_complete(lot_dir, db):
    doc = yaml.safe_load((lot_dir / "lot.yaml").read_text())
    test = next(t for t in doc["tests"] if t.get("engine") == "ddpcr")
    broken = lot_dir / next(iter(test["files"].values()))[0]
    broken.write_text("not an amplitude file\n")
    env = {**os.environ, "CGTQC_PASSWORD": PASSWORD, "COLUMNS": "200"}
    p = subprocess.run([sys.executable, "-m", "cgtqc", "run", str(lot_dir), "--db", db.removeprefix("sqlite:///"),
                        "-u", "alice", "--json"], capture_output=True, text=True, env=env)
    assert p.returncode == 1, p.stderr
    summary = json.loads(p.stdout)
    assert list(summary["failed"]) == [test["id"]] and broken.name in summary["failed"][test["id"]]
    results = json.loads((lot_dir / "out" / "results.json").read_text())
    ok = [t for t in results["tests"] if t["status"] == "ok"]
    assert len(ok) == len(results["tests"]) - 1 - sum(t["status"] == "pending" for t in results["tests"])
    assert broken.name in (lot_dir / "out" / "dossier.html").read_text()


def test_running_needs_the_users_password(lot_dir, db):
    with pytest.raises(PermissionDenied):
        run_lot(lot_dir, db_url=db, user="alice", password="wrong-password")
    assert _rows(db) == []
