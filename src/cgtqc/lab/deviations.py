"""Deviations and CAPA: linked to a lot, a result and/or an OOS investigation, with owner, status, due dates.

A deviation moves open -> investigation -> capa -> closed; it closes only when each of its corrective and
preventive actions is done or verified.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cgtqc.errors import InputError
from cgtqc.lab.models import (
    CAPA_KINDS,
    CAPA_STATUSES,
    DEVIATION_STATUSES,
    CapaAction,
    Deviation,
    OosInvestigation,
)
from cgtqc.lab.records import acting_for, choice, find
from cgtqc.store import audit
from cgtqc.store.models import Lot, Result, utcnow
from cgtqc.store.users import get_user


def open_deviation(
    session: Session,
    username: str,
    title: str,
    owner: str,
    due_on: date,
    *,
    description: str = "",
    lot: Lot | None = None,
    result: Result | None = None,
    investigation: OosInvestigation | None = None,
) -> Deviation:
    """Open a deviation (anyone may raise one); the owner must be an active user."""
    acting_for(session, username, "open_deviation")
    get_user(session, owner)
    if not title.strip():
        raise InputError("a deviation needs a title", place="--title")
    year = utcnow().year
    n = session.execute(
        select(func.count()).select_from(Deviation).where(Deviation.number.like(f"DEV-{year}-%"))
    ).scalar_one()
    lot_id = (
        lot.id if lot else (result.lot_id if result else (investigation.lot_id if investigation else None))
    )
    dev = Deviation(
        number=f"DEV-{year}-{n + 1:04d}",
        title=title.strip(),
        description=description,
        lot_id=lot_id,
        result_id=result.id if result else None,
        investigation_id=investigation.id if investigation else None,
        owner=owner,
        due_on=due_on,
        opened_by=username,
    )
    audit.add(session, dev, username, reason="deviation opened")
    return dev


def get_deviation(session: Session, number: str) -> Deviation:
    return find(session, Deviation, Deviation.number, number, "deviation")


def list_deviations(session: Session, lot: Lot | None = None) -> list[Deviation]:
    q = select(Deviation).order_by(Deviation.id)
    if lot is not None:
        q = q.where(Deviation.lot_id == lot.id)
    return list(session.execute(q).scalars())


def actions_of(session: Session, dev: Deviation) -> list[CapaAction]:
    q = select(CapaAction).where(CapaAction.deviation_id == dev.id).order_by(CapaAction.id)
    return list(session.execute(q).scalars())


def add_capa(
    session: Session, username: str, number: str, kind: str, description: str, owner: str, due_on: date
) -> CapaAction:
    """Add a corrective or preventive action; the deviation moves to 'capa'."""
    acting_for(session, username, "add_capa")
    get_user(session, owner)
    dev = get_deviation(session, number)
    if dev.status == "closed":
        raise InputError(f"deviation {number} is closed")
    action = CapaAction(
        deviation_id=dev.id,
        kind=choice(kind, CAPA_KINDS, "kind"),
        description=description,
        owner=owner,
        due_on=due_on,
    )
    audit.add(session, action, username, reason=f"{kind} action added")
    if dev.status != "capa":
        audit.update(session, dev, {"status": "capa"}, username, "CAPA defined")
    return action


def set_capa_status(session: Session, username: str, action_id: int, status: str, reason: str) -> CapaAction:
    """Mark an action done (its owner or QA) or verified (QA: effectiveness checked)."""
    user = acting_for(session, username, "capa_status")
    action = session.get(CapaAction, action_id)
    if action is None:
        raise InputError(f"no CAPA action #{action_id}")
    status = choice(status, CAPA_STATUSES[1:], "status")
    if status == "verified" and user.role != "qa":
        raise InputError("only QA verifies a CAPA action's effectiveness", place=f"CAPA #{action_id}")
    if status == "done" and username != action.owner and user.role != "qa":
        raise InputError(f"action #{action_id} is owned by {action.owner}", place=f"CAPA #{action_id}")
    audit.update(
        session, action, {"status": status, "done_at": action.done_at or utcnow()}, username, reason or status
    )
    return action


def set_status(session: Session, username: str, number: str, status: str, reason: str) -> Deviation:
    """Move a deviation on; closing (QA) needs every CAPA action done or verified."""
    user = acting_for(session, username, "move_deviation")
    dev = get_deviation(session, number)
    status = choice(status, DEVIATION_STATUSES, "status")
    if status == "closed":
        if user.role != "qa":
            raise InputError("only QA closes a deviation", place=number)
        open_actions = [f"#{a.id}" for a in actions_of(session, dev) if a.status == "open"]
        if open_actions:
            raise InputError(f"CAPA action(s) {', '.join(open_actions)} still open", place=number)
    changes: dict = {"status": status}
    if status == "closed":
        changes["closed_at"] = utcnow()
    audit.update(session, dev, changes, username, reason or f"status {status}")
    return dev


def overdue_items(session: Session, on: date | None = None) -> list[dict]:
    """Open deviations and CAPA actions past their due date on ``on`` (today when not given), each with its
    one-line summary."""
    on = on or date.today()
    out = [
        {
            "record": d.number,
            "kind": "deviation",
            "owner": d.owner,
            "due_on": d.due_on.isoformat(),
            "line": f"{d.number} ({d.owner}) due {d.due_on.isoformat()}",
        }
        for d in list_deviations(session)
        if d.status != "closed" and d.due_on < on
    ]
    q = select(CapaAction).where(CapaAction.status == "open").order_by(CapaAction.id)
    for a in session.execute(q).scalars():
        if a.due_on < on:
            out.append(
                {
                    "record": f"CAPA #{a.id}",
                    "kind": a.kind,
                    "owner": a.owner,
                    "due_on": a.due_on.isoformat(),
                    "line": f"CAPA #{a.id} ({a.owner}) due {a.due_on.isoformat()}",
                }
            )
    return out


def overdue(session: Session, on: date | None = None) -> list[str]:
    """Open deviations and actions past their due date, one line each."""
    return [item["line"] for item in overdue_items(session, on)]


def capa_to_dict(a: CapaAction) -> dict:
    """One CAPA action as plain data."""
    return {
        "id": a.id,
        "kind": a.kind,
        "description": a.description,
        "owner": a.owner,
        "due_on": a.due_on.isoformat(),
        "status": a.status,
    }


def deviation_of(session: Session, a: CapaAction) -> Deviation:
    """The deviation a CAPA action belongs to."""
    return session.get(Deviation, a.deviation_id)


def to_dict(session: Session, dev: Deviation) -> dict:
    lot = session.get(Lot, dev.lot_id) if dev.lot_id else None
    inv = session.get(OosInvestigation, dev.investigation_id) if dev.investigation_id else None
    return {
        "number": dev.number,
        "title": dev.title,
        "description": dev.description,
        "status": dev.status,
        "owner": dev.owner,
        "due_on": dev.due_on.isoformat(),
        "lot": lot.lot_number if lot else None,
        "result_id": dev.result_id,
        "investigation": inv.number if inv else None,
        "opened_by": dev.opened_by,
        "opened_at": dev.opened_at.isoformat(timespec="seconds"),
        "capa": [capa_to_dict(a) for a in actions_of(session, dev)],
    }
