"""Backup of the whole store to one JSON document, and restore into an empty database.

Every table of the schema is written row by row with its primary keys (parents before children), the audit
trail included, so a restored database recomputes the same hash chain: :func:`restore` refuses a database
that already holds records, inserts everything in one transaction, and returns the problems
``audit.verify`` finds (none, when the backup is whole). Open sessions and tokens are not backed up: after a
restore everyone logs in again. Works across SQLite and PostgreSQL in both directions.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, Integer, func, insert, select, text
from sqlalchemy.orm import Session

from cgtqc.results import atomic_write
from cgtqc.store import audit
from cgtqc.store.db import engine, migrate, session_scope
from cgtqc.store.models import AuditEntry, Base, User

FORMAT = "cgtqc-backup-1"
SKIPPED = {"auth_sessions", "alembic_version"}


def _tables() -> list:
    return [t for t in Base.metadata.sorted_tables if t.name not in SKIPPED]


def _out(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    return v


def dump(session: Session) -> dict[str, Any]:
    """Every row of every table (but sessions), in primary-key order, as JSON-able values."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in _tables():
        rows = session.execute(select(table).order_by(*table.primary_key.columns)).mappings()
        tables[table.name] = [{k: _out(v) for k, v in row.items()} for row in rows]
    chain = session.execute(select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)).scalar()
    return {"format": FORMAT, "last_entry_hash": chain or audit.GENESIS, "tables": tables}


def write_backup(session: Session, path: str | Path) -> dict[str, int]:
    """Write the backup file (atomically); returns the number of rows per table."""
    doc = dump(session)
    atomic_write(Path(path), json.dumps(doc, sort_keys=True).encode())
    return {name: len(rows) for name, rows in doc["tables"].items()}


def _in(column: Any, v: Any) -> Any:
    if v is None:
        return None
    if isinstance(column.type, DateTime):
        return datetime.fromisoformat(v)
    if isinstance(column.type, Date):
        return date.fromisoformat(v)
    return v


def restore(url: str, doc: dict[str, Any]) -> list[audit.AuditProblem]:
    """Load a backup into the empty database at ``url``; returns what ``audit.verify`` finds afterwards."""
    if doc.get("format") != FORMAT:
        raise ValueError(f"not a cgtqc backup (format {doc.get('format')!r})")
    migrate(url)
    with session_scope(url) as s:
        if s.execute(select(func.count()).select_from(AuditEntry)).scalar() or s.execute(
            select(func.count()).select_from(User)
        ).scalar():
            raise ValueError(f"database {url} is not empty: restore only into an empty database")
        known = {t.name: t for t in _tables()}
        unknown = sorted(set(doc["tables"]) - set(known))
        if unknown:
            raise ValueError(f"the backup has tables this version does not know: {', '.join(unknown)}")
        for name, table in known.items():
            rows = doc["tables"].get(name, [])
            if rows:
                cols = table.columns
                s.execute(insert(table), [{k: _in(cols[k], v) for k, v in row.items()} for row in rows])
        if engine(url).dialect.name == "postgresql":  # the next id after the restored ones
            for table in known.values():
                pk = list(table.primary_key.columns)
                if len(pk) == 1 and isinstance(pk[0].type, Integer):
                    col = pk[0].name
                    s.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{col}'), "
                            f"COALESCE((SELECT MAX({col}) FROM {table.name}), 0) + 1, false)"
                        )
                    )
    with session_scope(url) as s:
        return audit.verify(s)


def read_backup(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))
