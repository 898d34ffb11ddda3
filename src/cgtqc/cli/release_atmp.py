"""`cgtqc release conditional|certify`: ATMP release before every result is in (EU GMP Part IV §11.53)."""

from __future__ import annotations

import json

import typer

from cgtqc.cli._common import (
    DB_OPTION,
    JSON_OPTION,
    PASSWORD_OPTION,
    USER_OPTION,
    password_or_prompt,
    store_session,
)
from cgtqc.cli._lab_common import output
from cgtqc.lab import atmp
from cgtqc.lab.models import ConditionalRelease


def _doc(lot_number: str, cr: ConditionalRelease) -> dict:
    return {
        "lot": lot_number,
        "status": cr.status,
        "pending": json.loads(cr.pending_json),
        "qp": cr.qp,
        "collected_at_utc": cr.collected_at.isoformat() + "Z",
        "collection_tz": cr.collection_tz,
        "shelf_life_hours": cr.shelf_life_hours,
        "expires_at": atmp.expires_at(cr).isoformat(),
        "physician": cr.physician,
        "authority": cr.authority,
    }


def conditional(
    lot_number: str,
    collected: str = typer.Option(
        ..., "--collected", help="Collection time, ISO (local in --tz, or with offset)"
    ),
    tz: str = typer.Option(..., "--tz", help="IANA time zone of the collection site, e.g. Europe/Berlin"),
    shelf_life_hours: int = typer.Option(
        ..., "--shelf-life-hours", help="Shelf life in hours from collection"
    ),
    physician: str = typer.Option(..., "--physician", help="Treating physician (notified of late results)"),
    authority: str = typer.Option(..., "--authority", help="Competent authority (notified of late results)"),
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """QP stage 1: release with results pending (the disposition signature plus the conditional record)."""
    from cgtqc.lots.conditional import conditional_release

    pw = password_or_prompt(password)
    with store_session(db) as s:
        cr = conditional_release(
            s,
            user,
            pw,
            lot_number,
            collected_at=atmp.collection_time(collected, tz),
            tz=tz,
            shelf_life_hours=shelf_life_hours,
            physician=physician,
            authority=authority,
        )
        doc = _doc(lot_number, cr)
    output(
        doc,
        json_,
        f"{lot_number} released conditionally (pending: {', '.join(doc['pending'])}); "
        f"expires {doc['expires_at']}",
    )


def certify(
    lot_number: str,
    user: str = USER_OPTION,
    password: str | None = PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """QP stage 2: certify once every result pending at the conditional release is in and conforms."""
    from cgtqc.lots.conditional import certify as certify_lot

    pw = password_or_prompt(password)
    with store_session(db) as s:
        doc = _doc(lot_number, certify_lot(s, user, pw, lot_number))
    output(doc, json_, f"{lot_number} certified")


def register(app: typer.Typer) -> None:
    app.command()(conditional)
    app.command()(certify)
