"""Helpers shared by the command modules: JSON output, the database and the acting user."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from cgtqc.errors import CgtqcError
from cgtqc.results import to_json

console = Console()

DB_OPTION = typer.Option(
    None, "--db", help="SQLAlchemy URL or SQLite file [env CGTQC_DB; default ./cgtqc.db]", show_default=False
)
USER_OPTION = typer.Option(..., "--user", "-u", envvar="CGTQC_USER", help="Acting user [env CGTQC_USER]")
PASSWORD_OPTION = typer.Option(
    None,
    "--password",
    envvar="CGTQC_PASSWORD",
    show_default=False,
    help="Password, re-entered for each signature (prompted when omitted)",
)
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document")


def print_json(obj: Any) -> None:
    """Print one JSON document on stdout."""
    typer.echo(to_json(obj))


def db_url(db: str | None) -> str:
    """Resolve the database: the --db option, then $CGTQC_DB, then ./cgtqc.db. A bare path means SQLite."""
    value = db or os.environ.get("CGTQC_DB") or "cgtqc.db"
    return value if "://" in value else f"sqlite:///{value}"


@contextmanager
def store_session(db: str | None) -> Iterator[Session]:
    """A transaction on an initialised store; refuses a database `cgtqc init` has not prepared."""
    from cgtqc.store.db import is_initialised, session_scope

    url = db_url(db)
    if not is_initialised(url):
        raise CgtqcError(f"database {url} is not initialised: run `cgtqc init` first")
    with session_scope(url) as session:
        yield session


def password_or_prompt(password: str | None) -> str:
    return password if password is not None else typer.prompt("Password (signature)", hide_input=True)
