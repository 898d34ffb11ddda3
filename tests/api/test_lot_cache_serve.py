"""``cgtqc serve --workers``: refused on SQLite in one line before anything starts (its writes are serialised
inside the one server process); each worker process builds its app from the environment; real worker
processes on PostgreSQL answer alike."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.api.conftest import PASSWORD
from typer.testing import CliRunner

from cgtqc.cli import app as cli
from cgtqc.cli.serve import refuse_workers
from cgtqc.errors import CgtqcError
from cgtqc.server import SECURE_COOKIES_ENV, app_from_environment


def test_several_workers_are_refused_on_sqlite(tmp_path: Path):
    db = tmp_path / "site.db"
    result = CliRunner().invoke(cli, ["serve", "--db", str(db), "--workers", "2"])
    assert isinstance(result.exception, CgtqcError)
    message = str(result.exception)
    assert "\n" not in message and message.startswith("--workers 2 needs PostgreSQL")
    assert not db.exists()  # refused before the database is touched
    refuse_workers(f"sqlite:///{db}", 1)
    refuse_workers("postgresql+psycopg://qc@db.example/cgtqc", 4)
    with pytest.raises(CgtqcError):
        refuse_workers("sqlite:///:memory:", 3)


def test_a_worker_builds_its_app_from_the_environment(sqlite_url, monkeypatch):
    monkeypatch.setenv("CGTQC_DB", sqlite_url)
    monkeypatch.setenv(SECURE_COOKIES_ENV, "0")
    app = app_from_environment()
    assert (app.state.db_url, app.state.secure_cookies) == (sqlite_url, False)
    monkeypatch.delenv(SECURE_COOKIES_ENV)
    assert app_from_environment().state.secure_cookies is True


def _children(pid: int) -> list[int]:
    return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_worker_processes_answer_alike_and_a_logout_reaches_them_all(pg_url, tmp_path):
    """``cgtqc serve --workers 2`` on PostgreSQL for real: uvicorn's worker processes each hold their own
    memo and front (``api.front``); every answer to the same read is the same bytes whichever process
    answers, a write is seen by both, and a token revoked through one is refused by all."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    cgtqc = Path(sys.executable).with_name("cgtqc")
    log = (tmp_path / "serve.log").open("wb")
    command = [
        str(cgtqc),
        "serve",
        "--db",
        pg_url,
        "--port",
        str(port),
        "--workers",
        "2",
        "--insecure-cookies",
    ]
    server = subprocess.Popen(command, stdout=log, stderr=log, env={**os.environ, "CGTQC_DB": ""})
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            try:
                if (
                    httpx.get(f"{base}/healthz", timeout=1).status_code == 200
                    and len(_children(server.pid)) >= 2
                ):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        token = httpx.post(f"{base}/api/v1/auth/token", data={"username": "alice", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        lot = {"lot_number": "MSC-1", "product": "msc", "site": "Basel"}
        assert httpx.post(f"{base}/api/v1/lots", json=lot, headers=auth).status_code == 201

        def read_all() -> set[bytes]:  # a new connection each: the kernel spreads them over the workers
            answers = [httpx.get(f"{base}/api/v1/lots/MSC-1", headers=auth) for _ in range(16)]
            assert {r.status_code for r in answers} == {200}
            return {r.content for r in answers}

        (before,) = read_all()
        data = {"cqa": "viability", "stage": "release", "value": "91", "unit": "%"}
        assert httpx.post(f"{base}/api/v1/lots/MSC-1/results", data=data, headers=auth).status_code == 201
        (after,) = read_all()
        assert after != before and b'"viability"' in after
        assert httpx.post(f"{base}/api/v1/auth/logout", headers=auth).status_code == 204
        refused = {httpx.get(f"{base}/api/v1/lots/MSC-1", headers=auth).status_code for _ in range(16)}
        assert refused == {401}
    finally:
        server.terminate()
        server.wait(30)
        log.close()
