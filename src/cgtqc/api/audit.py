"""``/api/v1/audit``: the audit trail (who, UTC time, field, old and new value, reason) and its verification.

There is no route that writes, edits or deletes an audit entry, and no setting that turns auditing off."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from cgtqc.api.deps import allowed, read_scope
from cgtqc.lots import queries
from cgtqc.lots.signatures import verify_signatures
from cgtqc.store import audit as trail
from cgtqc.store.sessions import Principal

router = APIRouter(prefix="/audit", tags=["audit"])
Reader = Annotated[Principal, Depends(allowed("read"))]


@router.get("")
def log(
    request: Request,
    who: Reader,
    table: str | None = Query(None, max_length=64),
    record: int | None = Query(None, ge=0, le=2**31 - 1),
    user: str | None = Query(None, max_length=64),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**9),
) -> dict[str, Any]:
    """Audit entries, newest first."""
    with read_scope(request) as s:
        return queries.audit_log(s, table, record, user, limit, offset)


@router.get("/verify")
def verify(request: Request, who: Reader) -> dict[str, Any]:
    """Recompute the hash chain, replay it against every audited table, and check every live signature."""
    with read_scope(request) as s:
        problems = [str(p) for p in trail.verify(s)] + verify_signatures(s)
        total = queries.audit_log(s, limit=1)["total"]
    return {"intact": not problems, "entries": total, "problems": problems}
