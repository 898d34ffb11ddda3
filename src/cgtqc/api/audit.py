"""``/api/v1/audit``: the audit trail (who, UTC time, field, old and new value, reason) and its verification.

The trail pages by keyset on the entry number (``lots.audit_pages``): ``limit`` entries, newest first, then
``before=<older>`` for the next page and ``after=<newer>`` for the previous one. There is no route that
writes, edits or deletes an audit entry, and no setting that turns auditing off."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from cgtqc.api.deps import allowed, read_scope
from cgtqc.errors import InputError
from cgtqc.lots import queries
from cgtqc.lots.audit_pages import DEFAULT_LIMIT, MAX_LIMIT, AuditFilter, audit_page
from cgtqc.lots.signatures import verify_signatures
from cgtqc.store import audit as trail
from cgtqc.store.sessions import Principal

router = APIRouter(prefix="/audit", tags=["audit"])
Reader = Annotated[Principal, Depends(allowed("read"))]
ENTRY_NUMBER = 2**63 - 1


class Entry(BaseModel):
    """One entry: the change of one field of one record, with its reason and hash."""

    id: int
    at: str | None
    user: str
    action: str
    table: str
    record: int
    field: str | None
    old: str | None
    new: str | None
    reason: str
    hash: str


class Page(BaseModel):
    """One page, newest first; ``older``/``newer``: the cursors of the neighbouring pages (null at an end)."""

    total: int
    limit: int
    entries: list[Entry]
    older: int | None
    newer: int | None


@router.get("", response_model=Page)
def log(
    request: Request,
    who: Reader,
    table: str | None = Query(None, max_length=64, description="Only entries of this table"),
    record: int | None = Query(None, ge=0, le=2**31 - 1, description="Only entries of this record id"),
    user: str | None = Query(None, max_length=64, description="Only entries by this user"),
    lot: str | None = Query(
        None, max_length=64, description="Only entries of this lot's record, samples, results and signatures"
    ),
    since: date | None = Query(None, description="Only entries recorded on or after this UTC day"),
    until: date | None = Query(None, description="Only entries recorded on or before this UTC day"),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Entries per page"),
    before: int | None = Query(
        None, ge=0, le=ENTRY_NUMBER, description="Cursor: entries numbered below it (a page's 'older')"
    ),
    after: int | None = Query(
        None, ge=0, le=ENTRY_NUMBER, description="Cursor: entries numbered above it (a page's 'newer')"
    ),
) -> dict[str, Any]:
    """Entries newest first, a page at a time; follow ``older`` as ``before`` (``newer`` as ``after``)."""
    if "offset" in request.query_params:
        raise InputError("offset paging is gone: follow the page's 'older' cursor as before=", place="offset")
    with read_scope(request) as s:
        return audit_page(s, AuditFilter(table, record, user, lot, since, until), limit, before, after)


@router.get("/verify")
def verify(request: Request, who: Reader) -> dict[str, Any]:
    """Recompute the hash chain, replay it against every audited table, and check every live signature."""
    with read_scope(request) as s:
        problems = [str(p) for p in trail.verify(s)] + verify_signatures(s)
        total = queries.audit_log(s, limit=1)["total"]
    return {"intact": not problems, "entries": total, "problems": problems}
