"""Instruments: identity, IQ/OQ/PQ qualification, calibration and maintenance with due dates.

An instrument may serve a result on a date only when it is in service, IQ, OQ and PQ were all completed on or
before that date, and neither calibration nor maintenance is overdue (``problem``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from cgtqc.errors import InputError
from cgtqc.lab.models import INSTRUMENT_STATUSES, QUALIFICATION_STAGES, Instrument
from cgtqc.lab.records import acting_for, choice, find
from cgtqc.store import audit


def add_instrument(
    session: Session, username: str, code: str, name: str, kind: str, location: str = ""
) -> Instrument:
    """Register an instrument (not yet qualified: IQ, OQ and PQ are recorded as they are completed)."""
    acting_for(session, username, "register_instrument")
    if session.execute(select(Instrument).where(Instrument.code == code)).scalar():
        raise InputError(f"instrument {code!r} exists already")
    inst = Instrument(code=code, name=name, kind=kind, location=location, created_by=username)
    audit.add(session, inst, username, reason="instrument registered")
    return inst


def get_instrument(session: Session, code: str) -> Instrument:
    return find(session, Instrument, Instrument.code, code, "instrument")


def list_instruments(session: Session) -> list[Instrument]:
    return list(session.execute(select(Instrument).order_by(Instrument.code)).scalars())


def record_qualification(session: Session, username: str, code: str, stage: str, on: date) -> Instrument:
    """Record the completion of IQ, OQ or PQ (QA or a reviewer approves qualification)."""
    acting_for(session, username, "qualify_instrument")
    stage = choice(stage.lower(), QUALIFICATION_STAGES, "stage")
    inst = get_instrument(session, code)
    audit.update(session, inst, {f"{stage}_on": on}, username, f"{stage.upper()} completed")
    return inst


def record_calibration(session: Session, username: str, code: str, on: date, due: date) -> Instrument:
    """Record a calibration and the date the next one is due."""
    acting_for(session, username, "calibrate_instrument")
    _after(on, due, "calibration", code)
    inst = get_instrument(session, code)
    audit.update(session, inst, {"calibrated_on": on, "calibration_due": due}, username, "calibrated")
    return inst


def record_maintenance(session: Session, username: str, code: str, on: date, due: date) -> Instrument:
    """Record preventive maintenance and the date the next one is due."""
    acting_for(session, username, "calibrate_instrument")
    _after(on, due, "maintenance", code)
    inst = get_instrument(session, code)
    audit.update(session, inst, {"maintained_on": on, "maintenance_due": due}, username, "maintained")
    return inst


def set_status(session: Session, username: str, code: str, status: str, reason: str) -> Instrument:
    """Take an instrument out of service, back in, or retire it (a reason is required)."""
    acting_for(session, username, "instrument_status")
    inst = get_instrument(session, code)
    audit.update(session, inst, {"status": choice(status, INSTRUMENT_STATUSES, "status")}, username, reason)
    return inst


def _after(on: date, due: date, what: str, code: str) -> None:
    if due <= on:
        raise InputError(
            f"{what} due {due.isoformat()} is not after {on.isoformat()}", place=f"instrument {code}"
        )


def problem(inst: Instrument, on: date) -> str | None:
    """Why ``inst`` may not serve a result on ``on`` (None when it may)."""
    if inst.status != "in service":
        return f"instrument {inst.code} is {inst.status}"
    missing = [
        s.upper()
        for s in QUALIFICATION_STAGES
        if getattr(inst, f"{s}_on") is None or getattr(inst, f"{s}_on") > on
    ]
    if missing:
        return (
            f"instrument {inst.code} is not qualified on {on.isoformat()} ({'/'.join(missing)} not completed)"
        )
    if inst.calibration_due is None or inst.calibration_due < on:
        since = (
            f" since {inst.calibration_due.isoformat()}" if inst.calibration_due else " (never calibrated)"
        )
        return f"instrument {inst.code} is out of calibration{since}"
    if inst.maintenance_due is not None and inst.maintenance_due < on:
        return f"instrument {inst.code} is overdue for maintenance since {inst.maintenance_due.isoformat()}"
    return None


def to_dict(inst: Instrument, on: date | None = None) -> dict:
    on = on or date.today()
    issue = problem(inst, on)
    return {
        "code": inst.code,
        "name": inst.name,
        "kind": inst.kind,
        "location": inst.location,
        "status": inst.status,
        **{f"{s}_on": _iso(getattr(inst, f"{s}_on")) for s in QUALIFICATION_STAGES},
        "calibrated_on": _iso(inst.calibrated_on),
        "calibration_due": _iso(inst.calibration_due),
        "maintained_on": _iso(inst.maintained_on),
        "maintenance_due": _iso(inst.maintenance_due),
        "usable_today": issue is None,
        "problem": issue,
    }


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None
