"""Top-level commands: `cgtqc init`, `cgtqc coa`, `cgtqc demo`."""

from __future__ import annotations

from pathlib import Path

import typer

from cgtqc.cli._common import (
    DB_OPTION,
    JSON_OPTION,
    console,
    db_url,
    make_console,
    print_json,
    store_session,
)


def init(db: str | None = DB_OPTION, json_: bool = JSON_OPTION) -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from cgtqc.store.db import migrate

    url = db_url(db)
    migrate(url)
    if json_:
        print_json({"database": url, "ready": True})
        return
    console.print(f"database ready: {url}", highlight=False)


def coa(
    lot_number: str,
    pdf: Path | None = typer.Option(None, "--pdf", help="Write the certificate as PDF"),
    html: Path | None = typer.Option(None, "--html", help="Write the certificate as HTML"),
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Certificate of analysis of a lot (HTML and/or PDF; the HTML on stdout without --pdf/--html)."""
    from cgtqc.lots.coa import coa_summary, write_coa

    with store_session(db) as s:
        text = write_coa(s, lot_number, html, pdf)
        summary = coa_summary(s, lot_number)
    if json_:
        print_json({**summary, "pdf": str(pdf) if pdf else None, "html": str(html) if html else None})
        return
    if not pdf and not html:
        typer.echo(text)
    for p in (html, pdf):
        if p:
            console.print(f"wrote {p}")


def demo(
    out: Path = typer.Option(Path("demo-workspace"), "--out", "-o", help="Workspace folder (recreated)"),
    json_: bool = typer.Option(False, "--json", help="Print the summary as JSON (table on stderr)"),
) -> None:
    """Build a demo workspace: users, one lot per modality from generated raw files, evaluation, CoAs."""
    import contextlib
    import sys

    from cgtqc.runner.demo import run_demo

    if not json_:
        run_demo(out, console)
        return
    with contextlib.redirect_stdout(sys.stderr):  # the demo's own table and messages go to stderr
        rows = run_demo(out, make_console(stderr=True))
    print_json(rows)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(coa)
    app.command()(demo)
