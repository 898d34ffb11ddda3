"""The audit trail: append-only entries forming a SHA-256 hash chain, written in the caller's transaction.

Each entry holds who, when (UTC), table, record and field, old and new value, the reason, and the hash of
the previous entry. ``verify`` recomputes the chain and replays it against the audited tables, so an entry
or a data row edited or deleted behind the service's back (e.g. with sqlite3) is found and named.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from cgtqc.store.models import AUDITED, AuditEntry, Base, utcnow

GENESIS = "0" * 64
CHAIN_LOCK = 7277
"""The PostgreSQL advisory lock (transaction scope) that one writer holds while it extends the chain."""


def _scalar(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat(timespec="microseconds")
    if isinstance(v, date):
        return v.isoformat()
    return v


def row_state(obj: Base) -> dict[str, Any]:
    """The audited state of a row: every column, values in a canonical JSON-able form."""
    mapper = inspect(obj).mapper
    return {c.key: _scalar(getattr(obj, c.key)) for c in mapper.column_attrs}


def _encode(v: Any) -> str | None:
    return None if v is None else json.dumps(_scalar(v), sort_keys=True, ensure_ascii=False)


def entry_hash(e: AuditEntry) -> str:
    payload = json.dumps(
        [
            e.prev_hash,
            _scalar(e.at),
            e.username,
            e.action,
            e.table_name,
            e.record_id,
            e.field,
            e.old_value,
            e.new_value,
            e.reason,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def lock_chain(session: Session) -> None:
    """On PostgreSQL, wait for and hold the chain's advisory lock until the transaction ends (re-entrant; a
    no-op on SQLite, where the server serialises writes in its process)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})


def chain_head(session: Session) -> tuple[int, str]:
    """The newest entry's id and hash, (0, GENESIS) on an empty trail: one primary-key read, through Core
    (the memo of read answers asks it on every read, ``store.readcache``)."""
    head = (
        session.connection()
        .execute(select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1))
        .first()
    )
    return (head[0], head[1]) if head is not None else (0, GENESIS)


def _last_hash(session: Session) -> str:
    lock_chain(session)  # one writer extends the chain at a time
    return chain_head(session)[1]


def _append(
    session: Session,
    username: str,
    action: str,
    obj: Base,
    field: str | None,
    old: str | None,
    new: str | None,
    reason: str,
) -> AuditEntry:
    e = AuditEntry(
        at=utcnow(),
        username=username,
        action=action,
        table_name=obj.__tablename__,
        record_id=obj.id,
        field=field,
        old_value=old,
        new_value=new,
        reason=reason,
        prev_hash=_last_hash(session),
    )
    e.entry_hash = entry_hash(e)
    session.add(e)
    session.flush()
    return e


def add(session: Session, obj: Base, username: str, reason: str = "created") -> Base:
    """Insert ``obj`` and its audit entry (full state as the new value)."""
    session.add(obj)
    session.flush()
    _append(session, username, "create", obj, None, None, json.dumps(row_state(obj), sort_keys=True), reason)
    return obj


def update(session: Session, obj: Base, changes: dict[str, Any], username: str, reason: str) -> list[str]:
    """Set fields on ``obj``, one audit entry per changed field; returns the changed field names."""
    if not reason.strip():
        raise ValueError("a reason is required for a change to a GMP record")
    changed = []
    for key, value in changes.items():
        old = getattr(obj, key)
        if _encode(old) == _encode(value):
            continue
        setattr(obj, key, value)
        session.flush()
        _append(session, username, "update", obj, key, _encode(old), _encode(getattr(obj, key)), reason)
        changed.append(key)
    return changed


@dataclass(frozen=True)
class AuditProblem:
    entry_id: int | None
    message: str

    def __str__(self) -> str:
        return f"audit entry #{self.entry_id}: {self.message}" if self.entry_id else self.message


def verify(session: Session) -> list[AuditProblem]:
    """Check the chain and replay it against the audited tables; an empty list means intact."""
    problems: list[AuditProblem] = []
    expected: dict[tuple[str, int], dict[str, Any]] = {}
    last_entry: dict[tuple[str, int], int] = {}
    prev = GENESIS
    for e in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
        if e.prev_hash != prev:
            problems.append(
                AuditProblem(
                    e.id, "previous-entry hash does not match (an entry before it was changed or deleted)"
                )
            )
        if entry_hash(e) != e.entry_hash:
            problems.append(
                AuditProblem(
                    e.id,
                    f"content changed after writing ({e.table_name} #{e.record_id}"
                    f"{', field ' + e.field if e.field else ''})",
                )
            )
        prev = e.entry_hash
        key = (e.table_name, e.record_id)
        last_entry[key] = e.id
        if e.action == "create":
            expected[key] = json.loads(e.new_value or "{}")
        elif e.action == "update" and key in expected and e.field:
            expected[key][e.field] = None if e.new_value is None else json.loads(e.new_value)
        elif e.action == "delete":
            expected.pop(key, None)
    seen: set[tuple[str, int]] = set()
    for table, model in AUDITED.items():
        for obj in session.execute(select(model)).scalars():
            key = (table, obj.id)
            seen.add(key)
            state = json.loads(json.dumps(row_state(obj), sort_keys=True))
            if key not in expected:
                problems.append(AuditProblem(None, f"{table} #{obj.id} is not in the audit trail"))
                continue
            for field, value in expected[key].items():
                if state.get(field) != value:
                    problems.append(
                        AuditProblem(
                            last_entry[key],
                            f"{table} #{obj.id} field {field!r} is {state.get(field)!r} in the "
                            f"table but {value!r} in the audit trail (edited outside cgtqc)",
                        )
                    )
    for key in expected.keys() - seen:
        problems.append(AuditProblem(last_entry[key], f"{key[0]} #{key[1]} was deleted outside cgtqc"))
    return sorted(problems, key=lambda p: (p.entry_id is None, p.entry_id or 0))


def log(session: Session, table: str | None = None, record_id: int | None = None) -> list[AuditEntry]:
    """Entries in order, optionally for one table and record."""
    q = select(AuditEntry).order_by(AuditEntry.id)
    if table:
        q = q.where(AuditEntry.table_name == table)
    if record_id is not None:
        q = q.where(AuditEntry.record_id == record_id)
    return list(session.execute(q).scalars())
