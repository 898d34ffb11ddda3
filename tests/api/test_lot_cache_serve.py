"""``cgtqc serve --workers``: refused on SQLite in one line before anything starts (its writes are serialised
inside the one server process); each worker process builds its app from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
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
