"""`cgtqc audit`: verify the hash chain against the data, and read the trail."""

from __future__ import annotations

import typer
from rich.table import Table

from cgtqc.cli._common import DB_OPTION, JSON_OPTION, console, make_console, print_json, store_session
from cgtqc.lots.signatures import verify_signatures
from cgtqc.store import audit as trail

app = typer.Typer(help="Audit trail (21 CFR Part 11 / EU Annex 11).", no_args_is_help=True)
err = make_console(stderr=True)


@app.command()
def verify(db: str | None = DB_OPTION, json_: bool = JSON_OPTION) -> None:
    """Exit 0 when the chain is intact and matches every audited row; else name the first broken entry."""
    with store_session(db) as s:
        problems = [str(p) for p in trail.verify(s)] + verify_signatures(s)
        n = len(trail.log(s))
    if json_:
        print_json({"intact": not problems, "entries": n, "problems": problems})
        if problems:
            raise typer.Exit(1)
        return
    if problems:
        err.print(f"[bold red]audit trail BROKEN[/]: {problems[0]}", highlight=False, soft_wrap=True)
        for p in problems[1:10]:
            err.print(f"  also: {p}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"audit trail intact: {n} entries, hash chain and records agree")


@app.command()
def log(
    table: str | None = typer.Option(None, "--table"),
    record: int | None = typer.Option(None, "--record"),
    limit: int = typer.Option(50, "--limit", help="Last N entries (0: all)"),
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Readable audit trail: who, when (UTC), what, old and new value, why."""
    with store_session(db) as s:
        entries = trail.log(s, table, record)
    if limit:
        entries = entries[-limit:]
    rows = [
        {
            "id": e.id,
            "at": e.at.isoformat() + "Z",
            "user": e.username,
            "action": e.action,
            "table": e.table_name,
            "record": e.record_id,
            "field": e.field,
            "old": e.old_value,
            "new": e.new_value,
            "reason": e.reason,
            "hash": e.entry_hash,
        }
        for e in entries
    ]
    if json_:
        print_json(rows)
        return
    t = Table("#", "UTC", "user", "action", "record", "field", "old", "new", "reason")
    for r in rows:
        new = r["new"] or ""
        t.add_row(
            str(r["id"]),
            r["at"][:19],
            r["user"],
            r["action"],
            f"{r['table']} #{r['record']}",
            r["field"] or "",
            r["old"] or "",
            new if len(new) < 60 else new[:57] + "…",
            r["reason"],
        )
    console.print(t)
