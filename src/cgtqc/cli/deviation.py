"""`cgtqc deviation`: deviations and CAPA linked to lots, results and investigations."""

from __future__ import annotations

import typer

from cgtqc.cli._common import DB_OPTION, JSON_OPTION, PASSWORD_OPTION, USER_OPTION, store_session
from cgtqc.cli._lab_common import gmp_write, output, parse_date, record_lines, table
from cgtqc.lab import deviations, oos
from cgtqc.lots import service
from cgtqc.store.models import Result

app = typer.Typer(help="Deviations and CAPA.", no_args_is_help=True)


@app.command("open")
def open_(
    title: str = typer.Option(..., "--title"),
    owner: str = typer.Option(..., "--owner"),
    due: str = typer.Option(..., "--due", help="YYYY-MM-DD"),
    description: str = typer.Option("", "--description"),
    lot: str | None = typer.Option(None, "--lot"),
    result_id: int | None = typer.Option(None, "--result"),
    investigation: str | None = typer.Option(None, "--investigation"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Open a deviation, linked to a lot, a result id and/or an OOS investigation."""
    from cgtqc.errors import InputError

    with gmp_write(db, user, password) as s:
        result = s.get(Result, result_id) if result_id is not None else None
        if result_id is not None and result is None:
            raise InputError(f"no result #{result_id}", place="--result")
        dev = deviations.open_deviation(
            s,
            user,
            title,
            owner,
            parse_date(due, "--due"),
            description=description,
            lot=service.get_lot(s, lot) if lot else None,
            result=result,
            investigation=oos.get_investigation(s, investigation) if investigation else None,
        )
        doc = deviations.to_dict(s, dev)
    output(doc, json_, f"deviation {doc['number']} opened (owner {owner}, due {due})")


@app.command("list")
def list_(
    lot: str | None = typer.Option(None, "--lot"), db: str | None = DB_OPTION, json_: bool = JSON_OPTION
) -> None:
    """Deviations (of one lot, or all)."""
    with store_session(db) as s:
        rows = [
            deviations.to_dict(s, d)
            for d in deviations.list_deviations(s, service.get_lot(s, lot) if lot else None)
        ]
    output(
        rows,
        json_,
        lambda: table(
            rows, ["number", "title", "status", "owner", "due_on", "lot", "investigation"], "deviations"
        ),
    )


@app.command()
def show(number: str, db: str | None = DB_OPTION, json_: bool = JSON_OPTION) -> None:
    """One deviation with its CAPA actions."""
    with store_session(db) as s:
        doc = deviations.to_dict(s, deviations.get_deviation(s, number))
    lines = record_lines(doc, skip=("capa",))
    lines += [
        f"CAPA #{a['id']} {a['kind']}: {a['description']} ({a['owner']}, due {a['due_on']}, {a['status']})"
        for a in doc["capa"]
    ]
    output(doc, json_, "\n".join(lines))


@app.command()
def status(
    number: str,
    new_status: str = typer.Argument(..., help="open, investigation, capa or closed"),
    reason: str = typer.Option(..., "--reason"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Move a deviation on (closing: QA, every CAPA action done)."""
    with gmp_write(db, user, password) as s:
        doc = deviations.to_dict(s, deviations.set_status(s, user, number, new_status, reason))
    output(doc, json_, f"deviation {number}: {new_status}")


@app.command()
def capa(
    number: str,
    kind: str = typer.Option(..., "--kind", help="corrective or preventive"),
    description: str = typer.Option(..., "--description"),
    owner: str = typer.Option(..., "--owner"),
    due: str = typer.Option(..., "--due"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Add a corrective or preventive action (reviewer or QA)."""
    with gmp_write(db, user, password) as s:
        a = deviations.add_capa(s, user, number, kind, description, owner, parse_date(due, "--due"))
        doc = {
            "id": a.id,
            "deviation": number,
            "kind": a.kind,
            "owner": a.owner,
            "due_on": a.due_on.isoformat(),
        }
    output(doc, json_, f"CAPA #{a.id} ({kind}) added to {number}")


@app.command("capa-status")
def capa_status(
    action_id: int,
    new_status: str = typer.Argument(..., help="done or verified"),
    reason: str = typer.Option("", "--reason"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Mark a CAPA action done (its owner) or verified (QA)."""
    with gmp_write(db, user, password) as s:
        a = deviations.set_capa_status(s, user, action_id, new_status, reason)
        doc = {"id": a.id, "status": a.status}
    output(doc, json_, f"CAPA #{action_id}: {new_status}")


@app.command()
def overdue(
    on: str | None = typer.Option(None, "--on", help="Date to judge (default today)"),
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Open deviations and CAPA actions past their due date."""

    with store_session(db) as s:
        rows = deviations.overdue(s, parse_date(on, "--on", required=False))
    output(rows, json_, "\n".join(rows) or "nothing overdue")
