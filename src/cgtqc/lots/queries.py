"""Read-side questions the server's interfaces ask: lot lists and pages, products and specifications, and
whether a user may sign a lot (role and separation of duties), without computing anything new.

Every function takes an open ``Session`` and returns plain JSON-able dicts (or None when the thing does not
exist), so the REST API and the pages show the same facts.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, selectinload

from cgtqc.lab.checks import describe_results
from cgtqc.lots.disposition import evaluate_lot
from cgtqc.lots.service import current_results, notifications_of, specification_for
from cgtqc.lots.signatures import signatures_of
from cgtqc.specs import templates
from cgtqc.specs.model import SpecLine
from cgtqc.store.models import LOT_STATUSES, AuditEntry, Lot, Result, SpecificationRecord, User
from cgtqc.store.sessions import action_for_meaning, can


def _iso(v: Any) -> str | None:
    return None if v is None else v.isoformat() + ("Z" if hasattr(v, "hour") else "")


def find_lot(session: Session, lot_number: str) -> Lot | None:
    return session.execute(
        select(Lot).where(Lot.lot_number == lot_number).options(selectinload(Lot.results))
    ).scalar()


_SUMMARY_COLUMNS = (
    Lot.id,
    Lot.lot_number,
    Lot.product,
    Lot.spec_version,
    Lot.site,
    Lot.status,
    Lot.din,
    Lot.created_by,
    Lot.created_at,
)


def lot_summary(lot: Any, results: int) -> dict[str, Any]:
    """A lot's line in the list (``lot``: a Lot or a row of its summary columns)."""
    return {
        "lot": lot.lot_number,
        "product": lot.product,
        "spec_version": lot.spec_version,
        "site": lot.site,
        "status": lot.status,
        "din": lot.din,
        "created_by": lot.created_by,
        "created_at": _iso(lot.created_at),
        "results": results,
    }


def list_lots(
    session: Session,
    status: str | None = None,
    search: str | None = None,
    product: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Lots newest first, filtered by status, product and a search over lot number, product, site and DIN.

    Returns ``{"total": N, "lots": [...]}`` (one query for the page, one for the count)."""
    where = []
    if status:
        where.append(Lot.status == status)
    if product:
        where.append(Lot.product == product)
    if search:
        like = f"%{search.strip()}%"
        where.append(
            or_(
                Lot.lot_number.ilike(like), Lot.product.ilike(like), Lot.site.ilike(like), Lot.din.ilike(like)
            )
        )
    q = (
        select(*_SUMMARY_COLUMNS)  # rows, not ORM objects: the list is the busiest read
        .where(*where)
        .order_by(Lot.id.desc())
        .limit(max(0, min(limit, 1000)))
        .offset(max(0, offset))
    )
    page = list(session.execute(q))
    counts: dict[int, int] = {}
    if page:
        n = select(Result.lot_id, func.count()).where(Result.lot_id.in_([x.id for x in page]))
        counts = dict(session.execute(n.group_by(Result.lot_id)).all())
    total = session.execute(select(func.count()).select_from(Lot).where(*where)).scalar() or 0
    return {"total": total, "lots": [lot_summary(lot, counts.get(lot.id, 0)) for lot in page]}


def status_counts(session: Session) -> dict[str, int]:
    """How many lots are in each status (the list's filter buttons)."""
    rows = dict(session.execute(select(Lot.status, func.count()).group_by(Lot.status)).all())
    return {s: int(rows.get(s, 0)) for s in LOT_STATUSES}


def result_dict(r: Result, current: bool, lab: dict[str, Any] | None = None) -> dict[str, Any]:
    """A result as the API answers it; ``lab``: its lab record (instrument, reagents, method version,
    analyst, validity, reportable value), empty when it has none."""
    return {
        "id": r.id,
        "cqa": r.cqa,
        "stage": r.stage,
        "value": r.value,
        "unit": r.unit,
        "ci_low": r.ci_low,
        "ci_high": r.ci_high,
        "loq": r.loq,
        "checks": json.loads(r.checks_json),
        "provenance": json.loads(r.provenance_json),
        "rationale": r.rationale,
        "follows_up": r.follows_up,
        "entered_by": r.entered_by,
        "entered_at": _iso(r.entered_at),
        "reviewed_by": r.reviewed_by,
        "reviewed_at": _iso(r.reviewed_at),
        "current": current,
        "lab": lab or {},
    }


def lot_detail(session: Session, lot_number: str) -> dict[str, Any] | None:
    """Everything about a lot: identity, every test of its specification with the result, verdict and
    provenance, the results' history (superseded and follow-up rows), signatures and notifications."""
    lot = find_lot(session, lot_number)
    if lot is None:
        return None
    ev = evaluate_lot(session, lot)
    current = {r.id for r in ev.current.values()}
    lab = describe_results(session, [r.id for r in lot.results])
    tests = []
    for o in ev.outcomes:
        d = o.to_dict()
        d["result"] = result_dict(o.result, True, lab.get(o.result.id)) if o.result is not None else None
        tests.append(d)
    return {
        "lot": lot.lot_number,
        "product": lot.product,
        "spec_version": lot.spec_version,
        "site": lot.site,
        "status": lot.status,
        "din": lot.din,
        "coi_id": lot.coi_id,
        "manufactured_on": _iso(lot.manufactured_on),
        "expires_on": _iso(lot.expires_on),
        "storage": lot.storage,
        "created_by": lot.created_by,
        "created_at": _iso(lot.created_at),
        "releasable": ev.releasable,
        "blockers": ev.blockers,
        "samples": [
            {
                "code": x.sample_code,
                "stage": x.stage,
                "chain_step": x.chain_step,
                "description": x.description,
            }
            for x in lot.samples
        ],
        "tests": tests,
        "results": [result_dict(r, r.id in current, lab.get(r.id)) for r in lot.results],
        "signatures": [
            {
                "id": g.id,
                "user": g.username,
                "name": g.full_name,
                "meaning": g.meaning,
                "signed_at": _iso(g.signed_at),
                "content_sha256": g.content_hash,
                "void": g.void,
                "void_reason": g.void_reason,
            }
            for g in signatures_of(session, lot)
        ],
        "notifications": [
            {"at": _iso(n.at), "severity": n.severity, "message": n.message}
            for n in notifications_of(session, lot)
        ],
    }


def line_dict(ln: SpecLine) -> dict[str, Any]:
    return {
        "cqa": ln.cqa,
        "stage": ln.stage,
        "category": ln.category,
        "method": ln.method,
        "unit": ln.unit,
        "acceptance": str(ln.acceptance),
        "alert": str(ln.alert or ""),
        "rounding": ln.rounding,
        "after_release": ln.after_release,
        "compendial": list(ln.compendial),
    }


def products(session: Session) -> list[dict[str, Any]]:
    """Every product with a packaged template or a stored specification, and its versions."""
    stored: dict[str, set[str]] = {}
    for product, version in session.execute(select(SpecificationRecord.product, SpecificationRecord.version)):
        stored.setdefault(product, set()).add(version)
    tpl = templates()
    out = []
    for product in sorted({*tpl, *stored}):
        versions = sorted(stored.get(product, set()) | ({tpl[product].version} if product in tpl else set()))
        name = tpl[product].name if product in tpl else product
        out.append({"product": product, "name": name, "versions": versions, "template": product in tpl})
    return out


def specification(session: Session, product: str, version: str | None = None) -> dict[str, Any]:
    """A product's specification (a given version, else the newest) with every line."""
    spec = specification_for(session, product, version)
    return {
        "product": spec.product,
        "version": spec.version,
        "name": spec.name,
        "lines": [line_dict(ln) for ln in spec.lines],
    }


def sign_refusal(session: Session, username: str, lot_number: str, meaning: str) -> str | None:
    """Why ``username`` may not sign the lot with ``meaning`` (None when they may): role, lot state and the
    separation of duties, the same rules ``disposition.sign`` applies (the password is asked there)."""
    user = session.execute(select(User).where(User.username == username)).scalar()
    lot = find_lot(session, lot_number)
    if user is None or not user.active:
        return f"no active user {username!r}"
    if lot is None:
        return f"no lot {lot_number!r}"
    action = action_for_meaning(meaning)
    if not can(user.role, action):
        return f"{username} has role {user.role!r}; signing {meaning!r} needs another role"
    if meaning == "authored":
        if not any(r.entered_by == username for r in lot.results):
            return f"{username} entered no result of lot {lot_number}"
        return None
    if lot.status in ("released", "rejected"):
        return f"lot {lot_number} is {lot.status}"
    if meaning == "reviewed":
        entered = [r for r in current_results(lot).values() if r.value is not None and r.follows_up is None]
        if not entered:
            return f"lot {lot_number} has no results to review"
        own = sorted(r.cqa for r in entered if r.entered_by == username)
        if own:
            return f"{username} entered {', '.join(own)}; a different person must review them"
        return None
    if any(r.entered_by == username for r in lot.results):
        return f"{username} entered results of lot {lot_number} and cannot approve it"
    if meaning in ("released", "approved"):
        ev = evaluate_lot(session, lot)
        if ev.blockers:
            return f"lot {lot_number} cannot be {meaning}: " + "; ".join(ev.blockers)
    return None


def audit_entry_dict(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": _iso(e.at),
        "user": e.username,
        "action": e.action,
        "table": e.table_name,
        "record": e.record_id,
        "field": e.field,
        "old": e.old_value,
        "new": e.new_value,
        "reason": e.reason,
        "hash": e.entry_hash,
    }


def audit_log(
    session: Session,
    table: str | None = None,
    record: int | None = None,
    user: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Audit entries, newest first, optionally of one table, record or user: ``{"total", "entries"}``."""
    where = []
    if table:
        where.append(AuditEntry.table_name == table)
    if record is not None:
        where.append(AuditEntry.record_id == record)
    if user:
        where.append(AuditEntry.username == user)
    total = session.execute(select(func.count()).select_from(AuditEntry).where(*where)).scalar() or 0
    q = (
        select(AuditEntry)
        .where(*where)
        .order_by(AuditEntry.id.desc())
        .limit(max(0, min(limit, 1000)))
        .offset(max(0, offset))
    )
    return {"total": total, "entries": [audit_entry_dict(e) for e in session.execute(q).scalars()]}


def lot_audit_condition(session: Session, lot_number: str) -> ColumnElement[bool] | None:
    """The audit entries of a lot's record, samples, results, signatures and notifications (None: no lot)."""
    lot = find_lot(session, lot_number)
    if lot is None:
        return None
    records = [
        ("lots", [lot.id]),
        ("samples", [s.id for s in lot.samples]),
        ("results", [r.id for r in lot.results]),
    ]
    records.append(("signatures", [g.id for g in signatures_of(session, lot)]))
    records.append(("notifications", [n.id for n in notifications_of(session, lot)]))
    cond = [(AuditEntry.table_name == table) & AuditEntry.record_id.in_(ids) for table, ids in records if ids]
    return or_(*cond)


def lot_audit(session: Session, lot_number: str) -> list[dict[str, Any]] | None:
    """Every audit entry of a lot's record, samples, results, signatures and notifications, in order."""
    cond = lot_audit_condition(session, lot_number)
    if cond is None:
        return None
    q = select(AuditEntry).where(cond).order_by(AuditEntry.id)
    return [audit_entry_dict(e) for e in session.execute(q).scalars()]
