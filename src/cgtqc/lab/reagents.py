"""Reagents, kits, reference standards and controls: lot, expiry, storage and acceptance; recalls.

A lot may serve a result only when it is accepted and not expired on the result's date. A recall lists every
result that used the lot and every product lot those results belong to.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from cgtqc.errors import InputError
from cgtqc.lab.models import REAGENT_KINDS, ReagentLot, ResultReagent
from cgtqc.lab.records import acting_for, choice, find
from cgtqc.store import audit
from cgtqc.store.models import Lot, Result


def add_reagent_lot(
    session: Session,
    username: str,
    lot_number: str,
    name: str,
    kind: str,
    expires_on: date,
    storage: str = "",
    supplier: str = "",
) -> ReagentLot:
    """Receive a lot; it stays in quarantine until accepted."""
    acting_for(session, username, "receive_reagent")
    if session.execute(select(ReagentLot).where(ReagentLot.lot_number == lot_number)).scalar():
        raise InputError(f"reagent lot {lot_number!r} exists already")
    rl = ReagentLot(
        lot_number=lot_number,
        name=name,
        kind=choice(kind, REAGENT_KINDS, "kind"),
        expires_on=expires_on,
        storage=storage,
        supplier=supplier,
        created_by=username,
    )
    audit.add(session, rl, username, reason="reagent lot received (quarantine)")
    return rl


def get_reagent_lot(session: Session, lot_number: str) -> ReagentLot:
    return find(session, ReagentLot, ReagentLot.lot_number, lot_number, "reagent lot")


def list_reagent_lots(session: Session) -> list[ReagentLot]:
    return list(session.execute(select(ReagentLot).order_by(ReagentLot.lot_number)).scalars())


def set_status(session: Session, username: str, lot_number: str, status: str, reason: str) -> ReagentLot:
    """Accept or reject a lot after its incoming check (reviewer or QA)."""
    acting_for(session, username, "accept_reagent")
    rl = get_reagent_lot(session, lot_number)
    if rl.status == "recalled":
        raise InputError(f"reagent lot {lot_number} was recalled; its status cannot change")
    status = choice(status, ("accepted", "rejected"), "status")
    audit.update(session, rl, {"status": status, "status_reason": reason}, username, reason or status)
    return rl


def affected(session: Session, rl: ReagentLot) -> tuple[list[Result], list[Lot]]:
    """Every result that used the lot, and the product lots of those results."""
    results = list(
        session.execute(
            select(Result)
            .join(ResultReagent, ResultReagent.result_id == Result.id)
            .where(ResultReagent.reagent_lot_id == rl.id)
            .order_by(Result.id)
        ).scalars()
    )
    lot_ids = sorted({r.lot_id for r in results})
    lots = list(session.execute(select(Lot).where(Lot.id.in_(lot_ids)).order_by(Lot.lot_number)).scalars())
    return results, lots


def affected_to_dict(results: list[Result], lots: list[Lot]) -> dict:
    """The affected results (each with its product lot) and product lots (of ``affected`` or ``recall``) as
    plain data."""
    number = {lot.id: lot.lot_number for lot in lots}
    return {
        "results": [
            {"id": r.id, "lot": number[r.lot_id], "cqa": r.cqa, "stage": r.stage, "value": r.value}
            for r in results
        ],
        "product_lots": [lot.lot_number for lot in lots],
    }


def recall(session: Session, username: str, lot_number: str, reason: str) -> tuple[list[Result], list[Lot]]:
    """Recall a lot (QA): it serves no further result; returns the affected results and product lots."""
    acting_for(session, username, "recall_reagent")
    if not reason.strip():
        raise InputError("a recall needs a reason", place="--reason")
    rl = get_reagent_lot(session, lot_number)
    audit.update(session, rl, {"status": "recalled", "status_reason": reason}, username, f"recall: {reason}")
    return affected(session, rl)


def problem(rl: ReagentLot, on: date) -> str | None:
    """Why ``rl`` may not serve a result on ``on`` (None when it may)."""
    if rl.status != "accepted":
        return f"{rl.kind} lot {rl.lot_number} is {rl.status}, not accepted"
    if rl.expires_on < on:
        return f"{rl.kind} lot {rl.lot_number} expired on {rl.expires_on.isoformat()}"
    return None


def to_dict(rl: ReagentLot, on: date | None = None) -> dict:
    issue = problem(rl, on or date.today())
    return {
        "lot_number": rl.lot_number,
        "name": rl.name,
        "kind": rl.kind,
        "supplier": rl.supplier,
        "expires_on": rl.expires_on.isoformat(),
        "storage": rl.storage,
        "status": rl.status,
        "status_reason": rl.status_reason,
        "usable_today": issue is None,
        "problem": issue,
    }
