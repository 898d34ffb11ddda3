"""`cgtqc release`: evaluate a lot against its specification, review its results, sign its disposition."""

from __future__ import annotations

import typer

from cgtqc.cli._common import (
    DB_OPTION,
    JSON_OPTION,
    PASSWORD_OPTION,
    USER_OPTION,
    console,
    password_or_prompt,
    print_json,
    store_session,
)
from cgtqc.cli.lot import render_evaluation
from cgtqc.lots import disposition, service

app = typer.Typer(help="Evaluation, review and e-signature of a lot's disposition.", no_args_is_help=True)


@app.command()
def evaluate(lot_number: str, db: str | None = DB_OPTION, json_: bool = JSON_OPTION) -> None:
    """Verdict per test (pass, fail/OOS, oot, pending, invalid) and what blocks release."""
    with store_session(db) as s:
        ev = disposition.evaluate_lot(s, service.get_lot(s, lot_number))
    if json_:
        print_json(ev)
        return
    render_evaluation(ev)
    console.print("[green]releasable[/]" if ev.releasable else "[yellow]not releasable[/]")


@app.command()
def review(
    lot_number: str,
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Second-person review: mark every result reviewed and sign 'reviewed'."""
    with store_session(db) as s:
        sig = disposition.review(s, user, password_or_prompt(password), lot_number)
        console.print(f"{lot_number} reviewed by {sig.full_name} at {sig.signed_at.isoformat()}Z")


@app.command()
def sign(
    lot_number: str,
    meaning: str = typer.Option(
        ..., "--meaning", help="authored | reviewed | approved | released | rejected"
    ),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Sign the lot with a meaning; 'released' requires every release criterion met."""
    with store_session(db) as s:
        sig = disposition.sign(s, user, password_or_prompt(password), lot_number, meaning)
        console.print(
            f"{lot_number} signed '{sig.meaning}' by {sig.full_name} at {sig.signed_at.isoformat()}Z "
            f"(content sha256 {sig.content_hash[:16]}…)"
        )
