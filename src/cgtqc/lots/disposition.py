"""Lot disposition: evaluation against the specification, review and signing the disposition.

A lot is released only when every release test passes (or is pending with a rationale where the
specification allows the result after release), every in-process control has a result (or is pending with a
recorded rationale), every result was reviewed by someone other than who
entered it, and a QA user signs with their password. A signature holds the user, meaning, UTC time and
the SHA-256 of the signed content; the content names the lot's id and number, so a signature cannot be
moved to another record, and any change to a signed result voids it visibly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from cgtqc.errors import DispositionError, InputError, PermissionDenied
from cgtqc.lab import oos
from cgtqc.lots import trending
from cgtqc.lots.service import current_results, get_lot, specification_for, to_measurement
from cgtqc.lots.signatures import sign_lot
from cgtqc.specs import Evaluation, SpecLine, evaluate
from cgtqc.store import audit
from cgtqc.store.models import SIGNATURE_MEANINGS, Lot, Result, Signature, utcnow
from cgtqc.store.users import authenticate, require_role


@dataclass
class LineOutcome:
    line: SpecLine
    result: Result | None
    evaluation: Evaluation

    def to_dict(self) -> dict:
        return {
            "cqa": self.line.cqa,
            "stage": self.line.stage,
            "method": self.line.method,
            "acceptance": str(self.line.acceptance),
            "unit": self.line.unit,
            **self.evaluation.to_dict(),
            "entered_by": self.result.entered_by if self.result else None,
            "reviewed_by": self.result.reviewed_by if self.result else None,
        }


@dataclass
class LotEvaluation:
    lot_number: str
    product: str
    spec_version: str
    outcomes: list[LineOutcome]
    blockers: list[str] = field(default_factory=list)
    current: dict[tuple[str, str], Result] = field(default_factory=dict)  # the results that count, every test

    @property
    def releasable(self) -> bool:
        return not self.blockers

    @property
    def out_of_specification(self) -> list[LineOutcome]:
        return [o for o in self.outcomes if o.evaluation.verdict == "fail"]

    def to_dict(self) -> dict:
        return {
            "lot": self.lot_number,
            "product": self.product,
            "spec_version": self.spec_version,
            "releasable": self.releasable,
            "blockers": self.blockers,
            "results": [o.to_dict() for o in self.outcomes],
        }


def evaluate_lot(session: Session, lot: Lot) -> LotEvaluation:
    """Judge every specification line and list what stands between the lot and release."""
    spec = specification_for(session, lot.product, lot.spec_version)
    investigations = oos.investigations_of(session, lot)  # read once: overrides and open blockers
    current = current_results(lot, investigations)
    ev = LotEvaluation(lot.lot_number, lot.product, spec.version, [], current=current)
    for line in spec.lines:
        r = current.get((line.cqa, line.stage))
        e = evaluate(line, to_measurement(r) if r else None)
        ev.outcomes.append(LineOutcome(line, r, e))
        if not line.is_release:
            # an in-process control missing or pending blocks release unless a rationale is recorded for it
            if r is None:
                ev.blockers.append(f"{line.cqa} ({line.stage}): in-process control has no result")
            elif e.verdict == "pending" and not r.rationale.strip():
                ev.blockers.append(f"{line.cqa} ({line.stage}): in-process control pending without rationale")
            continue
        label = f"{line.cqa}"
        if r is None:
            ev.blockers.append(f"{label}: no result")
        elif e.verdict == "pending":
            if not (line.after_release and r.rationale.strip()):
                ev.blockers.append(f"{label}: pending, and the specification does not allow it after release")
        elif e.verdict in ("fail", "invalid"):
            ev.blockers.append(f"{label}: {e.verdict} ({e.reason})")
    trending.apply_run_rules(session, lot, ev)  # out of trend by run rules, as alert limits (issue 14)
    ev.blockers += oos.open_blockers(investigations)  # an open OOS investigation blocks release (issue 15)
    for r in current.values():
        if r.value is None or r.follows_up is not None:
            continue
        if r.reviewed_by is None:
            ev.blockers.append(f"{r.cqa} ({r.stage}): not reviewed")
    return ev


def review(session: Session, username: str, password: str, lot_number: str) -> Signature:
    """Second-person review of every entered result, signed 'reviewed'."""
    user = authenticate(session, username, password)
    require_role(user, "reviewer", "qa")
    lot = get_lot(session, lot_number)
    if lot.status in ("released", "rejected"):
        raise DispositionError(f"lot {lot_number} is {lot.status}")
    entered = [r for r in current_results(lot).values() if r.value is not None and r.follows_up is None]
    if not entered:
        raise DispositionError(f"lot {lot_number} has no results to review")
    own = sorted(r.cqa for r in entered if r.entered_by == username)
    if own:
        raise PermissionDenied(f"{username} entered {', '.join(own)}; a different person must review them")
    now = utcnow()
    for r in entered:
        if r.reviewed_by is None:
            audit.update(
                session, r, {"reviewed_by": username, "reviewed_at": now}, username, "results reviewed"
            )
    audit.update(session, lot, {"status": "reviewed"}, username, "results reviewed")
    return sign_lot(session, lot, (user.username, user.full_name), "reviewed")


def sign(session: Session, username: str, password: str, lot_number: str, meaning: str) -> Signature:
    """Sign the lot with a meaning; 'released' and 'rejected' set the disposition (QA only)."""
    if meaning not in SIGNATURE_MEANINGS:
        raise InputError(f"unknown signature meaning {meaning!r} (one of {', '.join(SIGNATURE_MEANINGS)})")
    if meaning == "reviewed":
        return review(session, username, password, lot_number)
    user = authenticate(session, username, password)
    lot = get_lot(session, lot_number)
    if meaning == "authored":
        require_role(user, "analyst", "qa")
        if not any(r.entered_by == username for r in lot.results):
            raise PermissionDenied(f"{username} entered no result of lot {lot_number}")
        return sign_lot(session, lot, (user.username, user.full_name), meaning)
    require_role(user, "qa")
    if lot.status in ("released", "rejected"):
        raise DispositionError(f"lot {lot_number} is already {lot.status}")
    if any(r.entered_by == username for r in lot.results):
        raise PermissionDenied(f"{username} entered results of lot {lot_number} and cannot approve it")
    if meaning in ("released", "approved"):
        ev = evaluate_lot(session, lot)
        if ev.blockers:
            raise DispositionError(f"lot {lot_number} cannot be {meaning}: " + "; ".join(ev.blockers))
    sig = sign_lot(session, lot, (user.username, user.full_name), meaning)
    if meaning in ("released", "rejected"):
        audit.update(session, lot, {"status": meaning}, username, f"disposition: {meaning}")
    return sig
