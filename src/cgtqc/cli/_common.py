"""Helpers shared by the command modules: JSON output and the database option."""

from __future__ import annotations

import os
from typing import Any

import typer
from rich.console import Console

from cgtqc.results import to_json

console = Console()

DB_OPTION = typer.Option(
    None, "--db", help="SQLAlchemy URL or SQLite file (default: $CGTQC_DB or ./cgtqc.db)", show_default=False
)


def print_json(obj: Any) -> None:
    """Print one JSON document on stdout."""
    typer.echo(to_json(obj))


def db_url(db: str | None) -> str:
    """Resolve the database: the --db option, then $CGTQC_DB, then ./cgtqc.db. A bare path means SQLite."""
    value = db or os.environ.get("CGTQC_DB") or "cgtqc.db"
    return value if "://" in value else f"sqlite:///{value}"
