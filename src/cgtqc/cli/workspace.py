"""Top-level commands: `cgtqc init`, `cgtqc coa`, `cgtqc demo`."""

from __future__ import annotations

from pathlib import Path

import typer

from cgtqc.cli._common import DB_OPTION, console, db_url, store_session


def init(db: str | None = DB_OPTION) -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from cgtqc.store.db import migrate

    url = db_url(db)
    migrate(url)
    console.print(f"database ready: {url}")


def coa(
    lot_number: str,
    pdf: Path | None = typer.Option(None, "--pdf", help="Write the certificate as PDF"),
    html: Path | None = typer.Option(None, "--html", help="Write the certificate as HTML"),
    db: str | None = DB_OPTION,
) -> None:
    """Certificate of analysis of a lot (HTML and/or PDF)."""
    from cgtqc.lots.coa import write_coa

    with store_session(db) as s:
        text = write_coa(s, lot_number, html, pdf)
    if not pdf and not html:
        typer.echo(text)
    for p in (html, pdf):
        if p:
            console.print(f"wrote {p}")


def demo(
    out: Path = typer.Option(Path("demo-workspace"), "--out", help="Workspace folder (recreated)"),
) -> None:
    """Build a demo workspace: users, one lot per modality from generated raw files, evaluation, CoAs."""
    from cgtqc.runner.demo import run_demo

    run_demo(out, console)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(coa)
    app.command()(demo)
