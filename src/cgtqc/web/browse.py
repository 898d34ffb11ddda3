"""Read-only pages: the specification browser and the audit trail viewer (old and new values, reasons).

Both read through ``lots.queries``, as the API does; the audit page replays the hash chain against every
record when asked (``?verify=1``), since that reads the whole database.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from cgtqc.errors import CgtqcError, InputError
from cgtqc.lots import queries, service
from cgtqc.lots.signatures import verify_signatures
from cgtqc.store import audit
from cgtqc.store.models import AUDITED, AuditEntry
from cgtqc.web.context import PageUser, error_page, read_scope, render

router = APIRouter()
AUDIT_ROWS = 200


@router.get("/specs", include_in_schema=False)
def spec_list(request: Request, who: PageUser) -> Response:
    """Every product: the packaged templates and the versions stored in the database."""
    with read_scope(request) as s:
        rows = queries.products(s)
    return render(request, "specs.html.j2", user=who, section="specs", specs=rows)


@router.get("/specs/{product}", include_in_schema=False)
def spec_page(request: Request, product: str, who: PageUser, version: str | None = None) -> Response:
    """Every line of one specification version (the newest by default), grouped by stage."""
    try:
        with read_scope(request) as s:
            spec = service.specification_for(s, product, version or None)
            versions = next((p["versions"] for p in queries.products(s) if p["product"] == product), [])
    except CgtqcError as exc:
        return error_page(request, who, exc, back="/specs")
    stages: dict[str, list] = {}
    for ln in spec.lines:
        stages.setdefault(ln.stage, []).append(ln)
    return render(
        request,
        "spec.html.j2",
        user=who,
        section="specs",
        spec=spec,
        versions=versions,
        stages=list(stages.items()),
    )


def _audit_rows(request: Request, lot: str, table: str) -> dict[str, Any]:
    """The newest entries: of one lot's records (``lots.queries.lot_audit``), else of one table or all."""
    table = table if table in AUDITED else ""
    with read_scope(request) as s:
        if lot.strip():
            found = queries.lot_audit(s, lot.strip())
            if found is None:
                raise InputError(f"no lot {lot.strip()!r}", place="lot")
            entries = [e for e in reversed(found) if not table or e["table"] == table]
            matched, entries = len(entries), entries[:AUDIT_ROWS]
        else:
            page = queries.audit_log(s, table=table or None, limit=AUDIT_ROWS)
            matched, entries = page["total"], page["entries"]
    return {
        "entries": entries,
        "matched": matched,
        "more": matched > len(entries),
        "lot": lot,
        "table": table,
        "tables": sorted(AUDITED),
    }


@router.get("/audit", include_in_schema=False)
def audit_page(
    request: Request, who: PageUser, lot: str = "", table: str = "", verify: bool = False
) -> Response:
    """The trail, newest first; with ``verify=1`` the chain is also replayed against every record."""
    try:
        rows = _audit_rows(request, lot, table)
    except CgtqcError as exc:
        return error_page(request, who, exc, back="/audit")
    problems: list[str] | None = None
    with read_scope(request) as s:
        if verify:
            problems = [str(p) for p in audit.verify(s)] + verify_signatures(s)
        total = s.execute(select(func.count()).select_from(AuditEntry)).scalar() or 0
    return render(request, "audit.html.j2", user=who, section="audit", problems=problems, total=total, **rows)


@router.get("/fragments/audit-rows", include_in_schema=False)
def audit_rows(request: Request, who: PageUser, lot: str = "", table: str = "") -> Response:
    """HTMX fragment: the audit table rows for the filter."""
    try:
        return render(request, "_audit_rows.html.j2", user=who, **_audit_rows(request, lot, table))
    except CgtqcError as exc:
        return error_page(request, who, exc)
