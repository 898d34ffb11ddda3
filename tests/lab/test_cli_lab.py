"""The lab command groups as a user runs them: JSON out, one-line refusals with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from cgtqc.store.db import migrate, session_scope
from cgtqc.store.users import create_user

from .conftest import PW, TODAY, USERS

CGTQC = [sys.executable, "-m", "cgtqc"]


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate(url)
    with session_scope(url) as s:
        for name, role in USERS:
            create_user(s, name, name.title(), role, PW, by="system")
    return str(tmp_path / "cli.db")


def cgtqc(db: str, user: str, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "CGTQC_DB": db, "CGTQC_USER": user, "CGTQC_PASSWORD": PW, "COLUMNS": "200"}
    p = subprocess.run(
        [*CGTQC, *args], capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL
    )
    assert p.returncode == code, p.stderr
    return p


def test_lab_groups_record_refuse_and_print_json(db):
    d = lambda days: (TODAY + timedelta(days=days)).isoformat()  # noqa: E731
    cgtqc(db, "alice", "instrument", "add", "FC-01", "--name", "Flow 1", "--kind", "flow cytometer")
    for stage in ("iq", "oq"):
        cgtqc(db, "bob", "instrument", "qualify", "FC-01", "--stage", stage, "--on", d(-30))
    cgtqc(db, "alice", "instrument", "calibrate", "FC-01", "--on", d(-3), "--due", d(100))
    (inst,) = json.loads(cgtqc(db, "alice", "instrument", "list", "--json").stdout)
    assert inst["problem"] == f"instrument FC-01 is not qualified on {TODAY} (PQ not completed)"
    cgtqc(
        db,
        "carol",
        "method",
        "add",
        "VIAB",
        "2",
        "--cqa",
        "viability",
        "--effective",
        d(-10),
        "--max-retests",
        "1",
    )
    assert json.loads(cgtqc(db, "alice", "method", "show", "VIAB:2", "--json").stdout)["max_retests"] == 1
    cgtqc(
        db,
        "bob",
        "analyst",
        "qualify",
        "alice",
        "--method-version",
        "VIAB:2",
        "--trained",
        d(-5),
        "--expires",
        d(200),
    )
    cgtqc(db, "alice", "lot", "create", "MSC-1", "--product", "msc", "--site", "Leiden")
    p = cgtqc(
        db,
        "alice",
        "result",
        "add",
        "MSC-1",
        "viability",
        "91",
        "--unit",
        "%",
        "--instrument",
        "FC-01",
        code=2,
    )
    assert p.stderr.strip().count("\n") == 0
    assert "instrument FC-01 is not qualified" in p.stderr and "result viability" in p.stderr
    cgtqc(db, "bob", "instrument", "qualify", "FC-01", "--stage", "pq", "--on", d(-1))
    p = cgtqc(db, "dave", "result", "add", "MSC-1", "viability", "91", "--unit", "%", code=2)
    assert "analyst dave is not qualified on method VIAB:2" in p.stderr
    rows = json.loads(
        cgtqc(
            db,
            "alice",
            "result",
            "add",
            "MSC-1",
            "viability",
            "60",
            "--unit",
            "%",
            "--instrument",
            "FC-01",
            "--json",
        ).stdout
    )
    assert rows[0]["oos_investigation"] == "OOS-MSC-1-01"
    (inv,) = json.loads(cgtqc(db, "alice", "oos", "list", "--open", "--json").stdout)
    assert (inv["number"], inv["phase"], inv["original"]["value"]) == ("OOS-MSC-1-01", "I", "60.0")
    p = cgtqc(db, "bob", "oos", "authorise", "OOS-MSC-1-01", "--retests", "1", "--reason", "r", code=2)
    assert "phase I is incomplete" in p.stderr
    dev = json.loads(
        cgtqc(
            db,
            "alice",
            "deviation",
            "open",
            "--title",
            "Low viability",
            "--owner",
            "bob",
            "--due",
            d(30),
            "--investigation",
            "OOS-MSC-1-01",
            "--json",
        ).stdout
    )
    assert (dev["lot"], dev["investigation"], dev["status"]) == ("MSC-1", "OOS-MSC-1-01", "open")
    cgtqc(db, "alice", "reagent", "add", "AB-7", "--name", "dye", "--expires", d(-1))
    p = cgtqc(db, "bob", "reagent", "accept", "AB-7", "--json")
    assert json.loads(p.stdout)["problem"] == f"reagent lot AB-7 expired on {d(-1)}"
    assert "intact" in cgtqc(db, "alice", "audit", "verify").stdout
