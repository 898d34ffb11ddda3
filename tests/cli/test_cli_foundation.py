"""The foundation through the `cgtqc` command, as a user runs it: demo, audit verify against tampering
with sqlite3, manual entry with unit checks, and one-line errors with nothing half-written."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

CGTQC = [sys.executable, "-m", "cgtqc"]
ENV = {**os.environ, "COLUMNS": "200", "CGTQC_PASSWORD": "demo-password"}


def run(*args: str, cwd: Path | None = None, ok: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run([*CGTQC, *args], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=600)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "ws"
    p = run("demo", "--out", str(out))
    assert "warning" not in p.stdout.lower(), p.stdout  # every engine's demo source ran
    assert "audit trail intact" in p.stdout
    return out


def test_demo_outcomes(demo):
    lots = run("lot", "list", "--json", "--db", str(demo / "cgtqc.db")).stdout
    assert '"status": "released"' in lots and '"status": "rejected"' in lots
    assert sorted(p.name for p in (demo / "coa").glob("*.pdf")) == sorted(
        f"{n}.pdf"
        for n in (
            "CART-26-0101",
            "LVHSC-26-0042",
            "EDHSC-26-0007",
            "AAV9-26-0315",
            "LVV-26-0088",
            "MSC-26-0019",
        )
    )
    assert all(
        (demo / "coa" / p).read_bytes()[:5] == b"%PDF-" for p in os.listdir(demo / "coa") if p.endswith("pdf")
    )
    ev = run("release", "evaluate", "MSC-26-0019", "--json", "--db", str(demo / "cgtqc.db")).stdout
    assert '"verdict": "fail"' in ev


def test_demo_integration_followup(demo):
    """The LV-HSC patient's follow-up report: three timepoints, the planted rising clone, the stored VCN."""
    assert "<html" in (demo / "integration" / "report.html").read_text().lower()
    doc = json.loads((demo / "integration" / "cqas.json").read_text())
    assert doc["patient"] == "COI-W123426000002" and doc["product"] == "lv_hsc"
    samples = [m["sample"] for m in doc["measurements"] if m["cqa"] == "integration_top_clone_pct"]
    assert samples == ["month6", "month12", "month24"]
    report = json.loads((demo / "integration" / "report.json").read_text())
    assert report["rising_clones"] and [v["lot"] for v in report["vcn"]] == ["LVHSC-26-0042"]


def test_audit_verify_passes_on_demo(demo):
    assert "intact" in run("audit", "verify", "--db", str(demo / "cgtqc.db")).stdout


@pytest.mark.parametrize(
    "sql, expect",
    [
        ("UPDATE results SET value = '99.9' WHERE id = 5", "results #5 field 'value'"),
        ("DELETE FROM results WHERE id = 7", "results #7 was deleted outside cgtqc"),
        ("UPDATE audit_trail SET new_value = '\"97\"' WHERE id = 40", "audit entry #40: content changed"),
        ("DELETE FROM audit_trail WHERE id = 30", "audit entry #31: previous-entry hash does not match"),
        ("UPDATE lots SET status = 'released' WHERE lot_number = 'LVV-26-0088'", "field 'status'"),
    ],
)
def test_audit_verify_names_first_broken_entry(demo, tmp_path, sql, expect):
    db = tmp_path / "tampered.db"
    shutil.copy(demo / "cgtqc.db", db)
    with sqlite3.connect(db) as con:
        con.execute(sql)
    p = run("audit", "verify", "--db", str(db), ok=False)
    assert p.returncode != 0
    assert "BROKEN" in p.stderr and expect in p.stderr, p.stderr


def _add_user(db: str, name: str, role: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CGTQC, "user", "add", name, "--name", name.title(), "--role", role, "--db", db, *extra],
        env={**ENV, "CGTQC_NEW_PASSWORD": "password-123"},
        capture_output=True,
        text=True,
    )


def _fresh_db(tmp_path: Path) -> str:
    db = str(tmp_path / "w.db")
    run("init", "--db", db)
    assert _add_user(db, "root", "admin").returncode == 0
    for name, role in [("ann", "analyst"), ("rex", "reviewer")]:
        assert _add_user(db, name, role, "--by", "root", "--by-password", "password-123").returncode == 0
    run("lot", "create", "V1", "--product", "lv_vector", "--site", "S", "--user", "ann", "--password",
        "password-123", "--db", db)
    return db


def test_only_an_admin_adds_users(tmp_path):
    db = str(tmp_path / "u.db")
    run("init", "--db", db)
    first = _add_user(db, "ann", "analyst")
    assert first.returncode == 2 and "first user of a database must be an admin" in first.stderr
    assert _add_user(db, "root", "admin").returncode == 0
    assert "give --by" in _add_user(db, "ann", "analyst").stderr
    assert "wrong password" in _add_user(db, "ann", "analyst", "--by", "root", "--by-password", "nope").stderr
    assert _add_user(db, "ann", "analyst", "--by", "root", "--by-password", "password-123").returncode == 0
    assert "needs admin" in _add_user(db, "bo", "qa", "--by", "ann", "--by-password", "password-123").stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["endotoxin", "abc", "--unit", "EU/mL"], "'abc' is not a number"),
        (["endotoxin", "0.2", "--unit", "furlongs"], "unknown unit 'furlongs'"),
        (["endotoxin", "0.2", "--unit", "%"], "'%' cannot be converted to 'EU/mL'"),
        (["viability", "90", "--unit", "%"], "has no test 'viability'"),
    ],
)
def test_bad_manual_entry_one_line_error_nothing_written(tmp_path, args, message):
    db = _fresh_db(tmp_path)
    before = sqlite3.connect(db).execute("SELECT count(*) FROM audit_trail").fetchone()[0]
    p = run("result", "add", "V1", *args, "--user", "ann", "--password", "password-123", "--db", db, ok=False)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], p.stderr
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM results").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM audit_trail").fetchone()[0] == before


def test_manual_entry_converts_units(tmp_path):
    db = _fresh_db(tmp_path)
    run("result", "add", "V1", "residual_host_dna", "2500", "--unit", "pg/dose", "--user", "ann",
        "--password", "password-123", "--db", db)
    ev = run("release", "evaluate", "V1", "--json", "--db", db).stdout
    assert '"reportable": "3"' in ev  # 2500 pg = 2.5 ng -> 3 at the limit's 0 decimals


def test_invalid_spec_file_one_line(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(
        "product: x\nname: X\nversion: '1'\nmodality: msc\ntests:\n  - cqa: viability\n"
        "    acceptance: '>= 70.0'\n    unit: nonsense\n"
    )
    p = run("spec", "validate", str(f), ok=False)
    assert p.returncode == 2 and p.stderr.count("\n") == 1
    assert "s.yaml: line 8, field 'unit': unknown unit 'nonsense'" in p.stderr


def test_uninitialised_database_refused(tmp_path):
    p = run("lot", "list", "--db", str(tmp_path / "none.db"), ok=False)
    assert p.returncode == 2 and "cgtqc init" in p.stderr
