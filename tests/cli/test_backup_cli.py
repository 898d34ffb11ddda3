"""`cgtqc backup write` then `cgtqc backup restore` into an empty database: the chain verifies there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CGTQC = str(Path(sys.executable).with_name("cgtqc"))


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CGTQC, *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def test_backup_and_restore_through_the_cli(tmp_path):
    assert run("init", "--db", "a.db", cwd=tmp_path).returncode == 0
    r = run(
        "user",
        "add",
        "admin",
        "--name",
        "Ada",
        "--role",
        "admin",
        "--new-password",
        "admin-pass-1",
        "--db",
        "a.db",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    wrote = run("backup", "write", "b.json", "--db", "a.db", "--json", cwd=tmp_path)
    assert wrote.returncode == 0, wrote.stderr
    assert json.loads(wrote.stdout)["rows"]["users"] == 1
    restored = run("backup", "restore", "b.json", "--db", "c.db", "--json", cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    doc = json.loads(restored.stdout)
    assert doc["intact"] and doc["audit_entries"] == 1
    assert run("audit", "verify", "--db", "c.db", cwd=tmp_path).returncode == 0
    again = run("backup", "restore", "b.json", "--db", "c.db", cwd=tmp_path)
    assert again.returncode == 2 and "not empty" in again.stderr
    missing = run("backup", "restore", "nope.json", "--db", "d.db", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.json" in missing.stderr
