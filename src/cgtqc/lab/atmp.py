"""Release of ATMPs that cannot wait for every result (EU GMP Part IV §11.3, §11.53-11.54), the records.

Stage 1: the QP releases conditionally with results still pending (sterility, mycoplasma...); certification
follows when they are in. A late positive sterility or mycoplasma result on a conditionally released lot
records notifications to the treating physician, the QP and the competent authority, and opens a deviation.
Supplying an out-of-specification lot needs the physician's request, a risk evaluation, the QP's signature and
the notifications; anything missing and it is refused. Shelf life counts in hours from collection, in the
collection site's time zone (a DST change inside the window is counted in real hours). The disposition steps
that need the lot's evaluation are in ``cgtqc.lots.conditional``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from cgtqc.errors import InputError, PermissionDenied
from cgtqc.lab import deviations, signing
from cgtqc.lab.models import ConditionalRelease, Deviation, ExceptionalRelease, ReleaseNotification
from cgtqc.store import audit
from cgtqc.store.models import Lot, Result, User, utcnow

LATE_CQAS = ("sterility", "sterility_rapid", "mycoplasma")
DEVIATION_DAYS = 30


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"unknown time zone {tz!r} (an IANA name such as Europe/Berlin)", place="--tz"
        ) from None


def collection_time(text: str, tz: str) -> datetime:
    """A collection time as an aware datetime: ISO with its UTC offset, or local wall time in ``tz``.

    A local time that does not exist (the hour skipped when clocks go forward) or exists twice (the hour
    repeated when they go back) is refused: give the UTC offset."""
    z = zone(tz)
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{text!r} is not an ISO date-time (YYYY-MM-DDTHH:MM)", place="collection time"
        ) from None
    if t.tzinfo is not None:
        return t.astimezone(z)
    first, second = t.replace(tzinfo=z, fold=0), t.replace(tzinfo=z, fold=1)
    if first.astimezone(UTC).astimezone(z).replace(tzinfo=None) != t:
        raise InputError(
            f"{text} does not exist in {tz} (clocks go forward); give the UTC offset", place="collection time"
        )
    if first.utcoffset() != second.utcoffset():
        raise InputError(
            f"{text} occurs twice in {tz} (clocks go back); give the UTC offset", place="collection time"
        )
    return first


def expiry(collected_at: datetime, hours: int) -> datetime:
    """Expiry ``hours`` real hours after collection, shown in the collection's time zone."""
    if collected_at.tzinfo is None:
        raise ValueError("collection time must be time-zone aware")
    return (collected_at.astimezone(UTC) + timedelta(hours=hours)).astimezone(collected_at.tzinfo)


def release_of(session: Session, lot: Lot) -> ConditionalRelease | None:
    return session.execute(select(ConditionalRelease).where(ConditionalRelease.lot_id == lot.id)).scalar()


def expires_at(cr: ConditionalRelease) -> datetime:
    z = zone(cr.collection_tz)
    return expiry(cr.collected_at.replace(tzinfo=UTC).astimezone(z), cr.shelf_life_hours)


def record_conditional(
    session: Session,
    qp: User,
    lot: Lot,
    pending: list[str],
    collected_at: datetime,
    tz: str,
    shelf_life_hours: int,
    physician: str,
    authority: str,
) -> ConditionalRelease:
    """QP stage 1: the conditional release record, signed."""
    if not physician.strip() or not authority.strip():
        raise InputError(
            "a conditional release names the treating physician and the competent authority "
            "(they are notified of a late positive result)",
            place=f"lot {lot.lot_number}",
        )
    if shelf_life_hours <= 0:
        raise InputError(f"shelf life {shelf_life_hours} h is not positive", place="--shelf-life-hours")
    if release_of(session, lot) is not None:
        raise InputError(f"lot {lot.lot_number} was already released conditionally")
    zone(tz)
    cr = ConditionalRelease(
        lot_id=lot.id,
        pending_json=json.dumps(sorted(pending)),
        collected_at=collected_at.astimezone(UTC).replace(tzinfo=None),
        collection_tz=tz,
        shelf_life_hours=shelf_life_hours,
        physician=physician,
        authority=authority,
        qp=qp.username,
    )
    if expires_at(cr) <= datetime.now(UTC):
        raise PermissionDenied(f"lot {lot.lot_number} expired at {expires_at(cr).isoformat()}")
    audit.add(session, cr, qp.username, reason="conditional release (QP stage 1)")
    signing.sign(session, qp, cr, "conditional release (QP stage 1)")
    return cr


def record_certification(session: Session, qp: User, cr: ConditionalRelease) -> ConditionalRelease:
    audit.update(
        session,
        cr,
        {"status": "certified", "certified_at": utcnow()},
        qp.username,
        "certified after the pending results (QP stage 2)",
    )
    signing.sign(session, qp, cr, "certified (QP stage 2)")
    return cr


def notify(
    session: Session,
    username: str,
    lot: Lot,
    role: str,
    recipient: str,
    message: str,
    deviation: Deviation | None = None,
) -> ReleaseNotification:
    n = ReleaseNotification(
        lot_id=lot.id,
        recipient_role=role,
        recipient=recipient,
        message=message,
        deviation_id=deviation.id if deviation else None,
        by=username,
    )
    audit.add(session, n, username, reason=f"{role} notified")
    return n


def on_late_result(
    session: Session, username: str, lot: Lot, result: Result, verdict: str
) -> Deviation | None:
    """Late positive sterility/mycoplasma result of a conditionally released lot: deviation, notifications."""
    cr = release_of(session, lot)
    if cr is None or result.cqa not in LATE_CQAS or verdict != "fail":
        return None
    message = (
        f"lot {lot.lot_number}: {result.cqa} is positive ({result.value}) after conditional release "
        f"on {cr.released_at.date().isoformat()}"
    )
    dev = deviations.open_deviation(
        session,
        username,
        f"Late positive {result.cqa} after conditional release",
        cr.qp,
        utcnow().date() + timedelta(days=DEVIATION_DAYS),
        description=message,
        lot=lot,
        result=result,
    )
    for role, recipient in (("physician", cr.physician), ("qp", cr.qp), ("authority", cr.authority)):
        notify(session, username, lot, role, recipient, message, dev)
    return dev


def record_exceptional(
    session: Session,
    qp: User,
    lot: Lot,
    physician: str,
    physician_request: str,
    risk_evaluation: str,
    authority: str,
) -> ExceptionalRelease:
    """§11.54: supply of an OOS lot at the physician's request; refused unless every part is given."""
    missing = [
        name
        for name, v in (
            ("the physician", physician),
            ("the physician's request", physician_request),
            ("a risk evaluation", risk_evaluation),
            ("the competent authority", authority),
        )
        if not v.strip()
    ]
    if missing:
        raise PermissionDenied(
            f"supplying out-of-specification lot {lot.lot_number} needs {', '.join(missing)}; refused"
        )
    er = ExceptionalRelease(
        lot_id=lot.id,
        physician=physician,
        physician_request=physician_request,
        risk_evaluation=risk_evaluation,
        authority=authority,
        qp=qp.username,
    )
    audit.add(session, er, qp.username, reason="out-of-specification lot supplied at the physician's request")
    signing.sign(session, qp, er, "exceptional release (QP)")
    message = (
        f"out-of-specification lot {lot.lot_number} supplied at the physician's request ({physician_request})"
    )
    for role, recipient in (("physician", physician), ("authority", authority)):
        notify(session, qp.username, lot, role, recipient, message)
    return er


def exceptional_to_dict(er: ExceptionalRelease, lot_number: str) -> dict:
    """An exceptional release (supply of an OOS lot) as plain data."""
    return {"lot": lot_number, "physician": er.physician, "authority": er.authority, "qp": er.qp}


def notifications_of(session: Session, lot: Lot) -> list[ReleaseNotification]:
    q = (
        select(ReleaseNotification)
        .where(ReleaseNotification.lot_id == lot.id)
        .order_by(ReleaseNotification.id)
    )
    return list(session.execute(q).scalars())
