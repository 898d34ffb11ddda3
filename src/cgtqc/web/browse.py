"""Read-only pages: the specification browser and the audit trail viewer (old and new values, reasons)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, or_, select

from cgtqc.errors import CgtqcError
from cgtqc.lots import service
from cgtqc.lots.signatures import verify_signatures
from cgtqc.specs import templates
from cgtqc.store import audit
from cgtqc.store.models import AUDITED, AuditEntry, Lot, Result, Sample, Signature, SpecificationRecord
from cgtqc.store.sessions import Principal
from cgtqc.web.context import error_page, page_user, read_scope, render

router = APIRouter()
AUDIT_ROWS = 200


def _version_key(v: str) -> list:
    return [int(x) if x.isdigit() else x for x in v.split(".")]


@router.get("/specs", include_in_schema=False)
def spec_list(request: Request, who: Principal = Depends(page_user)) -> Response:
    """Every product: the packaged templates and the versions stored in the database."""
    with read_scope(request) as s:
        stored = s.execute(
            select(SpecificationRecord.product, SpecificationRecord.version, SpecificationRecord.name)
        ).all()
    products: dict[str, dict] = {}
    for p, tpl in templates().items():
        products[p] = {
            "product": p,
            "name": tpl.name,
            "versions": {tpl.version},
            "release": len(tpl.release_lines),
            "ipc": len(tpl.lines) - len(tpl.release_lines),
        }
    for p, v, name in stored:
        products.setdefault(p, {"product": p, "name": name, "versions": set(), "release": "", "ipc": ""})
        products[p]["versions"].add(v)
    rows = [{**d, "versions": sorted(d["versions"], key=_version_key)} for _, d in sorted(products.items())]
    return render(request, "specs.html.j2", user=who, section="specs", specs=rows)


@router.get("/specs/{product}", include_in_schema=False)
def spec_page(
    request: Request, product: str, version: str | None = None, who: Principal = Depends(page_user)
) -> Response:
    """Every line of one specification version, grouped by stage."""
    try:
        with read_scope(request) as s:
            spec = service.specification_for(s, product, version or None)
            versions = sorted(
                set(
                    s.execute(
                        select(SpecificationRecord.version).where(SpecificationRecord.product == product)
                    ).scalars()
                )
                | {spec.version},
                key=_version_key,
            )
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


def _audit_rows(request: Request, lot: str, table: str) -> dict:
    """The newest entries, optionally of one table and of the records of one lot."""
    where = []
    if table in AUDITED:
        where.append(AuditEntry.table_name == table)
    with read_scope(request) as s:
        if lot.strip():
            lot_row = s.execute(select(Lot).where(Lot.lot_number == lot.strip())).scalar()
            lot_id = lot_row.id if lot_row else -1
            results = select(Result.id).where(Result.lot_id == lot_id)
            samples = select(Sample.id).where(Sample.lot_id == lot_id)
            signatures = select(Signature.id).where(
                Signature.record_type == "lot", Signature.record_id == lot_id
            )
            where.append(
                or_(
                    (AuditEntry.table_name == "lots") & (AuditEntry.record_id == lot_id),
                    (AuditEntry.table_name == "results") & AuditEntry.record_id.in_(results),
                    (AuditEntry.table_name == "samples") & AuditEntry.record_id.in_(samples),
                    (AuditEntry.table_name == "signatures") & AuditEntry.record_id.in_(signatures),
                )
            )
        matched = s.execute(select(func.count()).select_from(AuditEntry).where(*where)).scalar() or 0
        entries = list(
            s.execute(
                select(AuditEntry).where(*where).order_by(AuditEntry.id.desc()).limit(AUDIT_ROWS)
            ).scalars()
        )
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
    request: Request,
    lot: str = "",
    table: str = "",
    verify: bool = False,
    who: Principal = Depends(page_user),
) -> Response:
    """The trail, newest first; with ``verify=1`` the chain is also replayed against every record."""
    problems: list[str] | None = None
    with read_scope(request) as s:
        if verify:
            problems = [str(p) for p in audit.verify(s)] + verify_signatures(s)
        total = s.execute(select(func.count()).select_from(AuditEntry)).scalar() or 0
    return render(
        request,
        "audit.html.j2",
        user=who,
        section="audit",
        problems=problems,
        total=total,
        **_audit_rows(request, lot, table),
    )


@router.get("/fragments/audit-rows", include_in_schema=False)
def audit_rows(
    request: Request, lot: str = "", table: str = "", who: Principal = Depends(page_user)
) -> Response:
    """HTMX fragment: the audit table rows for the filter."""
    return render(request, "_audit_rows.html.j2", user=who, **_audit_rows(request, lot, table))
