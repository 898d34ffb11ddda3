"""Read-only pages: the specification browser and the audit trail viewer (old and new values, reasons).

Both read through the lot services, as the API does: the audit page a page of 100 entries at a time
(``lots.audit_pages``: keyset on the entry number, filters kept in the page links), and it replays the hash
chain against every record only when asked (``?verify=1``), since that reads the whole database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from cgtqc.errors import CgtqcError, InputError
from cgtqc.lab.records import parse_date
from cgtqc.lots import queries, service
from cgtqc.lots.audit_pages import AuditFilter, audit_page
from cgtqc.lots.signatures import verify_signatures
from cgtqc.store import audit
from cgtqc.store.models import AUDITED, AuditEntry
from cgtqc.web.context import PageUser, error_page, read_scope, render

router = APIRouter()
AUDIT_ROWS = 100  # entries per page of the audit trail


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


def _cursor(text: str, place: str) -> int | None:
    t = text.strip()
    if not t:
        return None
    if not t.isdecimal() or len(t) > 18:
        raise InputError(f"cursor {place} must be an entry number, got {t[:40]!r}", place=place)
    return int(t)


@dataclass
class AuditQuery:
    """The audit page's query string (the page and its fragment take the same one)."""

    lot: str = ""
    table: str = ""
    user: str = ""
    since: str = ""
    until: str = ""
    before: str = ""
    after: str = ""


def _audit_rows(request: Request, q: AuditQuery) -> dict[str, Any]:
    """One page of the trail for the filter (``lots.audit_pages``), with the links to its neighbours."""
    lot, table, user, since, until = q.lot, q.table, q.user, q.since, q.until
    table = table if table in AUDITED else ""
    f = AuditFilter(
        table or None,
        None,
        user.strip() or None,
        lot.strip() or None,
        parse_date(since, "since", required=False),
        parse_date(until, "until", required=False),
    )
    with read_scope(request) as s:
        page = audit_page(s, f, AUDIT_ROWS, _cursor(q.before, "before"), _cursor(q.after, "after"))
    filters = {
        "lot": lot.strip(),
        "table": table,
        "user": user.strip(),
        "since": since.strip(),
        "until": until.strip(),
    }
    query = urlencode({k: v for k, v in filters.items() if v})

    def link(cursor: str, value: int | None) -> str | None:
        return None if value is None else "&".join(x for x in (query, f"{cursor}={value}") if x)

    shown = {("user_filter" if k == "user" else k): v for k, v in filters.items()}  # "user": who is logged in
    return {
        **page,
        **shown,
        "query": query,
        "older_query": link("before", page["older"]),
        "newer_query": link("after", page["newer"]),
        "tables": sorted(AUDITED),
    }


@router.get("/audit", include_in_schema=False)
def audit_page_view(
    request: Request,
    who: PageUser,
    q: AuditQuery = Depends(),
    verify: bool = False,
) -> Response:
    """The trail, newest first, a page at a time; with ``verify=1`` the chain is also replayed against every
    record."""
    try:
        rows = _audit_rows(request, q)
    except CgtqcError as exc:
        return error_page(request, who, exc, back="/audit")
    problems: list[str] | None = None
    with read_scope(request) as s:
        if verify:
            problems = [str(p) for p in audit.verify(s)] + verify_signatures(s)
        everything = s.execute(select(func.count()).select_from(AuditEntry)).scalar() or 0
    return render(
        request, "audit.html.j2", user=who, section="audit", problems=problems, everything=everything, **rows
    )


@router.get("/fragments/audit-rows", include_in_schema=False)
def audit_rows(
    request: Request,
    who: PageUser,
    q: AuditQuery = Depends(),
) -> Response:
    """HTMX fragment: one page of the audit table (rows and the page links) for the filter."""
    try:
        rows = _audit_rows(request, q)
        return render(request, "_audit_rows.html.j2", user=who, **rows)
    except CgtqcError as exc:
        return error_page(request, who, exc)
