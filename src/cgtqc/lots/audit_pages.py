"""The audit trail a page at a time, newest first, by keyset on the entry number (the hash chain's order).

A page is the ``limit`` newest matching entries below the cursor ``before`` (the next, older page) or the
``limit`` oldest above ``after`` (the previous, newer page; still shown newest first). Each page is one
indexed range read on the primary key, never an OFFSET scan, so page 100 of a 10,000-entry trail costs what
page 1 does. A page names its neighbours' cursors: ``older`` (pass it as ``before``) and ``newer`` (pass it
as ``after``), None at either end. The REST API and the audit page both read the trail through
:func:`audit_page`, so their pages agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from cgtqc.errors import InputError
from cgtqc.lots.queries import audit_entry_dict, lot_audit_condition
from cgtqc.store.models import AuditEntry

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class AuditFilter:
    """Which entries: of one table, record, user or lot, and recorded on or between UTC days (inclusive)."""

    table: str | None = None
    record: int | None = None
    user: str | None = None
    lot: str | None = None
    since: date | None = None
    until: date | None = None


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min)


def conditions(session: Session, f: AuditFilter) -> list[ColumnElement[bool]]:
    """The SQL conditions of a filter; an unknown lot or an empty day range is one ``InputError``."""
    where: list[ColumnElement[bool]] = []
    if f.table:
        where.append(AuditEntry.table_name == f.table)
    if f.record is not None:
        where.append(AuditEntry.record_id == f.record)
    if f.user:
        where.append(AuditEntry.username == f.user)
    if f.lot:
        cond = lot_audit_condition(session, f.lot)
        if cond is None:
            raise InputError(f"no lot {f.lot!r}", place="lot")
        where.append(cond)
    if f.since and f.until and f.since > f.until:
        raise InputError(f"since ({f.since}) is after until ({f.until})", place="since")
    if f.since:
        where.append(AuditEntry.at >= _day_start(f.since))
    if f.until:
        where.append(AuditEntry.at < _day_start(f.until + timedelta(days=1)))
    return where


def _exists(session: Session, where: list[ColumnElement[bool]]) -> bool:
    return session.execute(select(AuditEntry.id).where(*where).limit(1)).first() is not None


def audit_page(
    session: Session,
    f: AuditFilter = AuditFilter(),
    limit: int = DEFAULT_LIMIT,
    before: int | None = None,
    after: int | None = None,
) -> dict[str, Any]:
    """One page of matching entries, newest first: ``{"total", "limit", "entries", "older", "newer"}``.

    ``total`` counts every matching entry (all pages); ``older``/``newer`` are the cursors of the
    neighbouring pages, None when there is none."""
    if before is not None and after is not None:
        raise InputError("give the cursor before or after, not both", place="after")
    for name, cursor in (("before", before), ("after", after)):
        if cursor is not None and cursor < 0:
            raise InputError(f"cursor {name} must be an entry number >= 0, got {cursor}", place=name)
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit must be 1 to {MAX_LIMIT}, got {limit}", place="limit")
    where = conditions(session, f)
    total = session.execute(select(func.count()).select_from(AuditEntry).where(*where)).scalar() or 0
    q = select(AuditEntry).where(*where).limit(limit + 1)
    if after is not None:
        rows = list(session.execute(q.where(AuditEntry.id > after).order_by(AuditEntry.id)).scalars())
        more_newer, rows = len(rows) > limit, rows[:limit][::-1]
        more_older = bool(rows) and _exists(session, [*where, AuditEntry.id < rows[-1].id])
    else:
        if before is not None:
            q = q.where(AuditEntry.id < before)
        rows = list(session.execute(q.order_by(AuditEntry.id.desc())).scalars())
        more_older, rows = len(rows) > limit, rows[:limit]
        newer = [*where, AuditEntry.id > rows[0].id] if rows and before is not None else None
        more_newer = newer is not None and _exists(session, newer)
    return {
        "total": total,
        "limit": limit,
        "entries": [audit_entry_dict(e) for e in rows],
        "older": rows[-1].id if more_older else None,
        "newer": rows[0].id if more_newer else None,
    }
