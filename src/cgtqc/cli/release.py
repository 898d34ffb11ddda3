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
    json_: bool = JSON_OPTION,
) -> None:
    """Second-person review: mark every result reviewed and sign 'reviewed'."""
    pw = password_or_prompt(password)
    with store_session(db) as s:
        doc = _signature(lot_number, disposition.review(s, user, pw, lot_number))
    if json_:
        print_json(doc)
        return
    console.print(f"{lot_number} reviewed by {doc['name']} at {doc['signed_at']}", highlight=False)


def _signature(lot_number: str, sig) -> dict:  # type: ignore[no-untyped-def]
    return {
        "lot": lot_number,
        "meaning": sig.meaning,
        "user": sig.username,
        "name": sig.full_name,
        "signed_at": sig.signed_at.isoformat() + "Z",
        "content_sha256": sig.content_hash,
    }


@app.command()
def sign(
    lot_number: str,
    meaning: str = typer.Option(
        ..., "--meaning", help="authored | reviewed | approved | released | rejected"
    ),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Sign the lot with a meaning; 'released' requires every release criterion met."""
    pw = password_or_prompt(password)
    with store_session(db) as s:
        doc = _signature(lot_number, disposition.sign(s, user, pw, lot_number, meaning))
    if json_:
        print_json(doc)
        return
    console.print(
        f"{lot_number} signed '{doc['meaning']}' by {doc['name']} at {doc['signed_at']} "
        f"(content sha256 {doc['content_sha256'][:16]}…)",
        highlight=False,
    )


from cgtqc.cli import release_atmp  # noqa: E402  (conditional release and certification of ATMPs, issue 15)

release_atmp.register(app)
