"""`cgtqc reagent`: reagent, kit, reference standard and control lots; acceptance and recall."""

from __future__ import annotations

import typer

from cgtqc.cli._common import DB_OPTION, JSON_OPTION, PASSWORD_OPTION, USER_OPTION, console, store_session
from cgtqc.cli._lab_common import gmp_write, output, parse_date, table
from cgtqc.lab import reagents

app = typer.Typer(help="Reagent, kit, reference standard and control lots.", no_args_is_help=True)


@app.command()
def add(
    lot_number: str,
    name: str = typer.Option(..., "--name"),
    kind: str = typer.Option("reagent", "--kind", help="reagent, kit, 'reference standard' or control"),
    expires: str = typer.Option(..., "--expires", help="YYYY-MM-DD"),
    storage: str = typer.Option("", "--storage"),
    supplier: str = typer.Option("", "--supplier"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Receive a lot (in quarantine until accepted)."""
    with gmp_write(db, user, password) as s:
        rl = reagents.add_reagent_lot(
            s, user, lot_number, name, kind, parse_date(expires, "--expires"), storage, supplier
        )
        doc = reagents.to_dict(rl)
    output(doc, json_, f"{kind} lot {lot_number} received (quarantine)")


@app.command("list")
def list_(db: str | None = DB_OPTION, json_: bool = JSON_OPTION) -> None:
    """Every lot and whether it may serve a result today."""
    with store_session(db) as s:
        rows = [reagents.to_dict(r) for r in reagents.list_reagent_lots(s)]
    output(
        rows,
        json_,
        lambda: table(
            rows, ["lot_number", "name", "kind", "expires_on", "status", "problem"], "reagent lots"
        ),
    )


@app.command()
def show(lot_number: str, db: str | None = DB_OPTION, json_: bool = JSON_OPTION) -> None:
    """One lot, with the results and product lots that used it."""
    with store_session(db) as s:
        rl = reagents.get_reagent_lot(s, lot_number)
        doc = {**reagents.to_dict(rl), "used_by": reagents.affected_to_dict(*reagents.affected(s, rl))}
    output(doc, json_, "\n".join(f"{k}: {v}" for k, v in doc.items()))


def _status(
    lot_number: str, new: str, reason: str, user: str, password: str | None, db: str | None, json_: bool
) -> None:
    with gmp_write(db, user, password) as s:
        doc = reagents.to_dict(reagents.set_status(s, user, lot_number, new, reason))
    output(doc, json_, f"reagent lot {lot_number}: {new}")


@app.command()
def accept(
    lot_number: str,
    reason: str = typer.Option("incoming check passed", "--reason"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Accept a lot after its incoming check (reviewer or QA)."""
    _status(lot_number, "accepted", reason, user, password, db, json_)


@app.command()
def reject(
    lot_number: str,
    reason: str = typer.Option(..., "--reason"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Reject a lot (reviewer or QA)."""
    _status(lot_number, "rejected", reason, user, password, db, json_)


@app.command()
def recall(
    lot_number: str,
    reason: str = typer.Option(..., "--reason"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Recall a lot (QA) and list every result and product lot it affects."""
    with gmp_write(db, user, password) as s:
        doc = {
            "lot_number": lot_number,
            **reagents.affected_to_dict(*reagents.recall(s, user, lot_number, reason)),
        }
    if json_:
        output(doc, True, "")
        return
    console.print(
        f"reagent lot {lot_number} recalled: {len(doc['results'])} result(s) in product lot(s) "
        f"{', '.join(doc['product_lots']) or 'none'}",
        highlight=False,
    )
    for r in doc["results"]:
        console.print(f"  result #{r['id']} {r['cqa']} ({r['stage']}) = {r['value']}", highlight=False)
