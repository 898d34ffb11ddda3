"""ATMP release steps that need the lot's evaluation (EU GMP Part IV §11.53-11.54); records in lab.atmp.

``conditional_release``: QP stage 1 — the lot is released (the disposition signature, every other test
conforming, reviewed) with results still pending, and the conditional-release record names the collection
time and zone, the shelf life in hours, the treating physician and the competent authority. ``certify``: QP
stage 2 once every pending result is in and conforms. ``supply_out_of_specification``: an OOS lot supplied at
the physician's request, with the risk evaluation, the QP's signature and the notifications.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.orm import Session

from cgtqc.errors import DispositionError
from cgtqc.lab import atmp, signing
from cgtqc.lab.models import ConditionalRelease, ExceptionalRelease
from cgtqc.lots import disposition
from cgtqc.lots.service import current_results, get_lot, specification_for, to_measurement
from cgtqc.specs import evaluate


def conditional_release(
    session: Session,
    username: str,
    password: str,
    lot_number: str,
    *,
    collected_at: datetime,
    tz: str,
    shelf_life_hours: int,
    physician: str,
    authority: str,
) -> ConditionalRelease:
    """QP stage 1: release with results pending (refused when nothing is pending: release normally)."""
    qp = signing.signer(session, username, password, "qa")
    lot = get_lot(session, lot_number)
    ev = disposition.evaluate_lot(session, lot)
    pending = [o.line.cqa for o in ev.outcomes if o.line.is_release and o.evaluation.verdict == "pending"]
    if not pending:
        raise DispositionError(
            f"lot {lot_number} has no pending result; release it with `cgtqc release sign`"
        )
    cr = atmp.record_conditional(
        session, qp, lot, pending, collected_at, tz, shelf_life_hours, physician, authority
    )
    disposition.sign(session, username, password, lot_number, "released")
    return cr


def certify(session: Session, username: str, password: str, lot_number: str) -> ConditionalRelease:
    """QP stage 2: every result pending at the conditional release is in and conforms."""
    qp = signing.signer(session, username, password, "qa")
    lot = get_lot(session, lot_number)
    cr = atmp.release_of(session, lot)
    if cr is None or cr.status != "conditional":
        raise DispositionError(f"lot {lot_number} has no conditional release to certify")
    spec = specification_for(session, lot.product, lot.spec_version)
    current = current_results(lot)
    problems = []
    for cqa in json.loads(cr.pending_json):
        line = spec.line(cqa, "release")
        r = current.get((cqa, "release"))
        e = evaluate(line, to_measurement(r) if r else None)
        if e.verdict != "pass":
            problems.append(f"{cqa}: {e.verdict} ({e.reason})")
    if problems:
        raise DispositionError(f"lot {lot_number} cannot be certified: " + "; ".join(problems))
    return atmp.record_certification(session, qp, cr)


def supply_out_of_specification(
    session: Session,
    username: str,
    password: str,
    lot_number: str,
    *,
    physician: str,
    physician_request: str,
    risk_evaluation: str,
    authority: str,
) -> ExceptionalRelease:
    """§11.54: supply an OOS lot; refused unless it is OOS and every required part is given."""
    qp = signing.signer(session, username, password, "qa")
    lot = get_lot(session, lot_number)
    ev = disposition.evaluate_lot(session, lot)
    if not ev.out_of_specification:
        raise DispositionError(
            f"lot {lot_number} is not out of specification; the exceptional path is for OOS lots"
        )
    return atmp.record_exceptional(session, qp, lot, physician, physician_request, risk_evaluation, authority)
