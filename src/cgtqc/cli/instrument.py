"""`cgtqc instrument`: register instruments, record IQ/OQ/PQ, calibration, maintenance and status."""

from __future__ import annotations

import typer

from cgtqc.cli._common import DB_OPTION, JSON_OPTION, PASSWORD_OPTION, USER_OPTION, store_session
from cgtqc.cli._lab_common import gmp_write, output, parse_date, record_lines, table
from cgtqc.lab import instruments

app = typer.Typer(
    help="Instruments: qualification (IQ/OQ/PQ), calibration and maintenance.", no_args_is_help=True
)


@app.command()
def add(
    code: str,
    name: str = typer.Option(..., "--name"),
    kind: str = typer.Option(..., "--kind"),
    location: str = typer.Option("", "--location"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Register an instrument (unqualified until IQ, OQ and PQ are recorded)."""
    with gmp_write(db, user, password) as s:
        doc = instruments.to_dict(instruments.add_instrument(s, user, code, name, kind, location))
    output(doc, json_, f"instrument {code} registered (not qualified: record IQ, OQ and PQ)")


@app.command("list")
def list_(db: str | None = DB_OPTION, json_: bool = JSON_OPTION) -> None:
    """Every instrument and whether it may serve a result today."""
    with store_session(db) as s:
        rows = [instruments.to_dict(i) for i in instruments.list_instruments(s)]
    output(
        rows,
        json_,
        lambda: table(
            rows, ["code", "name", "kind", "location", "status", "calibration_due", "problem"], "instruments"
        ),
    )


@app.command()
def show(code: str, db: str | None = DB_OPTION, json_: bool = JSON_OPTION) -> None:
    """One instrument's record."""
    with store_session(db) as s:
        doc = instruments.to_dict(instruments.get_instrument(s, code))
    output(doc, json_, "\n".join(record_lines(doc)))


@app.command()
def qualify(
    code: str,
    stage: str = typer.Option(..., "--stage", help="iq, oq or pq"),
    on: str = typer.Option(..., "--on", help="Completion date, YYYY-MM-DD"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Record the completion of IQ, OQ or PQ (reviewer or QA)."""
    with gmp_write(db, user, password) as s:
        doc = instruments.to_dict(
            instruments.record_qualification(s, user, code, stage, parse_date(on, "--on"))
        )
    output(doc, json_, f"instrument {code}: {stage.upper()} completed {on}")


@app.command()
def calibrate(
    code: str,
    on: str = typer.Option(..., "--on"),
    due: str = typer.Option(..., "--due"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Record a calibration and the next due date."""
    with gmp_write(db, user, password) as s:
        doc = instruments.to_dict(
            instruments.record_calibration(s, user, code, parse_date(on, "--on"), parse_date(due, "--due"))
        )
    output(doc, json_, f"instrument {code}: calibrated {on}, next due {due}")


@app.command()
def maintain(
    code: str,
    on: str = typer.Option(..., "--on"),
    due: str = typer.Option(..., "--due"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Record preventive maintenance and the next due date."""
    with gmp_write(db, user, password) as s:
        doc = instruments.to_dict(
            instruments.record_maintenance(s, user, code, parse_date(on, "--on"), parse_date(due, "--due"))
        )
    output(doc, json_, f"instrument {code}: maintained {on}, next due {due}")


@app.command()
def status(
    code: str,
    new_status: str = typer.Argument(..., help="'in service', 'out of service' or 'retired'"),
    reason: str = typer.Option(..., "--reason"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Take an instrument out of service, back in, or retire it."""
    with gmp_write(db, user, password) as s:
        doc = instruments.to_dict(instruments.set_status(s, user, code, new_status, reason))
    output(doc, json_, f"instrument {code}: {new_status}")
