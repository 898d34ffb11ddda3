"""`cgtqc backup`: the whole store to one JSON file, and back into an empty database (chain verified)."""

from __future__ import annotations

from pathlib import Path

import typer

from cgtqc.cli._common import DB_OPTION, JSON_OPTION, console, db_url, print_json, store_session
from cgtqc.errors import CgtqcError

app = typer.Typer(help="Backup and restore of the store (audit trail included).", no_args_is_help=True)


@app.command()
def write(
    path: Path = typer.Argument(..., help="Backup file to write (JSON)"),
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Write every table (users, specifications, lots, results, signatures, audit trail...) to PATH."""
    from cgtqc.store.backup import write_backup

    with store_session(db) as s:
        counts = write_backup(s, path)
    if json_:
        print_json({"file": str(path), "rows": counts})
        return
    console.print(f"wrote {path}: {sum(counts.values())} rows, {counts.get('audit_trail', 0)} audit entries")


@app.command()
def restore(
    path: Path = typer.Argument(..., help="Backup file written by `cgtqc backup write`"),
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Load PATH into an empty database and verify the audit chain there (exit 1 when it does not verify)."""
    import json

    from cgtqc.store.backup import read_backup
    from cgtqc.store.backup import restore as restore_backup

    try:
        doc = read_backup(path)
    except (OSError, json.JSONDecodeError) as exc:
        raise CgtqcError(f"{path}: cannot read the backup: {exc}") from None
    try:
        problems = restore_backup(db_url(db), doc)
    except ValueError as exc:
        raise CgtqcError(str(exc)) from None
    n = len(doc["tables"].get("audit_trail", []))
    if json_:
        print_json(
            {
                "database": db_url(db),
                "audit_entries": n,
                "intact": not problems,
                "problems": [str(p) for p in problems],
            }
        )
    elif problems:
        console.print(f"[bold red]restored, but the audit trail does not verify[/]: {problems[0]}")
    else:
        console.print(f"restored into {db_url(db)}: {n} audit entries, hash chain and records agree")
    if problems:
        raise typer.Exit(1)
