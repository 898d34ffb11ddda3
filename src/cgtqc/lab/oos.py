"""Out-of-specification investigations, after the FDA guidance (2006; Rev. 1, 2022).

An OOS verdict opens a phase I laboratory investigation on the result automatically, and release is blocked
while it is open. Phase I records the checklist (calculation, instrument, standards, method, analyst, sample)
and the hypothesis; only then may a supervisor authorise retests, at most the maximum fixed in advance by the
method version. A retest measures the original sample again; a resample is a new sample of the same lot,
authorised apart and only with the reason the original sample is not representative (compromised,
mishandled): retests and resamples together stay within the method version's maximum, and each is recorded
with its kind. Either is entered by another analyst than the original one, unless an override is logged
with its reason. Phase II is the full-scale investigation (production, process, batch records): its scope
and findings are recorded, and an investigation in phase II closes only once they are. The outcome is
signed by a supervisor: confirmed OOS (the lot is rejected or goes to the exceptional-release path), or
invalidated with an assignable cause, after which the retest becomes the reportable result. The original
result is never changed or hidden: it stays a row of the lot, on the certificate's appendix and in the
audit trail (no testing into compliance).
"""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cgtqc.errors import InputError, PermissionDenied
from cgtqc.lab import methods, signing
from cgtqc.lab.checks import link_of
from cgtqc.lab.models import OOS_OUTCOMES, PHASE_I_CHECKLIST, MethodVersion, OosInvestigation, ResultLabLink
from cgtqc.lab.records import LAB_AUTHORITY, acting_for, choice, find
from cgtqc.store import audit
from cgtqc.store.models import Lot, Result, utcnow

SUPERVISORS = LAB_AUTHORITY["oos_close"]  # who authorises retests and signs the outcome


def get_investigation(session: Session, number: str) -> OosInvestigation:
    return find(session, OosInvestigation, OosInvestigation.number, number, "OOS investigation")


def investigations_of(session: Session, lot: Lot) -> list[OosInvestigation]:
    q = select(OosInvestigation).where(OosInvestigation.lot_id == lot.id).order_by(OosInvestigation.id)
    return list(session.execute(q).scalars())


def list_investigations(session: Session, open_only: bool = False) -> list[OosInvestigation]:
    q = select(OosInvestigation).order_by(OosInvestigation.id)
    if open_only:
        q = q.where(OosInvestigation.status == "open")
    return list(session.execute(q).scalars())


def open_for_result(
    session: Session, username: str, lot: Lot, result: Result, reason: str
) -> OosInvestigation | None:
    """Open phase I for an OOS result (none for a retest: it belongs to its investigation already)."""
    link = link_of(session, result.id)
    if link is not None and link.investigation_id is not None:
        return None
    if session.execute(select(OosInvestigation).where(OosInvestigation.result_id == result.id)).scalar():
        return None
    n = session.execute(
        select(func.count()).select_from(OosInvestigation).where(OosInvestigation.lot_id == lot.id)
    ).scalar_one()
    inv = OosInvestigation(
        number=f"OOS-{lot.lot_number}-{n + 1:02d}",
        lot_id=lot.id,
        result_id=result.id,
        cqa=result.cqa,
        stage=result.stage,
        opened_by=username,
        hypothesis="",
        checklist_json="{}",
    )
    audit.add(session, inv, username, reason=f"OOS result opens phase I: {reason}")
    return inv


def opened_for(session: Session, result_id: int) -> str | None:
    """The number of the investigation an OOS result opened, if any."""
    q = select(OosInvestigation.number).where(OosInvestigation.result_id == result_id)
    return session.execute(q).scalar()


def _open(inv: OosInvestigation) -> None:
    if inv.status != "open":
        raise InputError(f"investigation {inv.number} is closed ({inv.outcome})")


def _open_for(session: Session, username: str, action: str, number: str) -> OosInvestigation:
    """The open investigation ``number``, once ``username`` is found to hold the authority for ``action``."""
    acting_for(session, username, action)
    inv = get_investigation(session, number)
    _open(inv)
    return inv


def record_phase_i(
    session: Session, username: str, number: str, findings: dict[str, str], hypothesis: str | None = None
) -> OosInvestigation:
    """Record phase I checklist findings (item -> finding) and the hypothesis being tested."""
    inv = _open_for(session, username, "oos_phase_i", number)
    checklist = json.loads(inv.checklist_json)
    for item, finding in findings.items():
        choice(item, PHASE_I_CHECKLIST, "checklist item")
        if not finding.strip():
            raise InputError(f"checklist item {item!r} needs a finding", place=number)
        checklist[item] = finding.strip()
    changes: dict = {"checklist_json": json.dumps(checklist, sort_keys=True)}
    if hypothesis is not None:
        changes["hypothesis"] = hypothesis.strip()
    audit.update(session, inv, changes, username, "phase I laboratory investigation")
    return inv


def missing_checklist(inv: OosInvestigation) -> list[str]:
    done = json.loads(inv.checklist_json)
    return [item for item in PHASE_I_CHECKLIST if item not in done]


def method_version_of(session: Session, inv: OosInvestigation) -> MethodVersion | None:
    """The method version of the original result (recorded, else the one in effect when it was entered)."""
    link = link_of(session, inv.result_id)
    if link is not None and link.method_version_id is not None:
        return session.get(MethodVersion, link.method_version_id)
    original = session.get(Result, inv.result_id)
    return methods.effective_version(session, inv.cqa, original.entered_at.date())


def _phase_i_done(inv: OosInvestigation, what: str) -> None:
    missing = missing_checklist(inv)
    if missing or not inv.hypothesis:
        text = ", ".join(missing) + (" and the hypothesis" if not inv.hypothesis else "")
        raise InputError(
            f"phase I is incomplete (missing: {text.lstrip(', ')}); {what} cannot be authorised",
            place=inv.number,
        )


def _maximum(session: Session, inv: OosInvestigation, retests: int, resamples: int) -> MethodVersion:
    """The method version whose maximum ``retests`` + ``resamples`` must respect (refused beyond it)."""
    mv = method_version_of(session, inv)
    if mv is None:
        raise InputError(
            f"no method version is recorded for {inv.cqa}, so no maximum number of retests was "
            "fixed in advance; register one (`cgtqc method add`)",
            place=inv.number,
        )
    if retests + resamples > mv.max_retests:
        what = f"{retests} retests" + (f" and {resamples} resamples" if resamples else "")
        raise InputError(
            f"{what} exceed the maximum of {mv.max_retests} fixed by method {mv.label}"
            + (" (retests and resamples together)" if resamples else ""),
            place=inv.number,
        )
    return mv


def authorise_retests(
    session: Session, username: str, number: str, count: int, reason: str
) -> OosInvestigation:
    """A supervisor authorises ``count`` retests in all, within the method version's maximum."""
    inv = _open_for(session, username, "oos_authorise", number)
    _phase_i_done(inv, "retests")
    _maximum(session, inv, count, inv.resamples_authorised)
    used = retests_used(session, inv, "retest")
    if count < used:
        raise InputError(f"{used} retests were already performed", place=number)
    audit.update(
        session,
        inv,
        {"retests_authorised": count, "authorised_by": username},
        username,
        reason or "retests authorised",
    )
    return inv


def authorise_resamples(
    session: Session, username: str, number: str, count: int, reason: str
) -> OosInvestigation:
    """A supervisor authorises ``count`` resamples in all (new samples of the lot), only with the reason the
    original sample is not representative; retests and resamples together within the method's maximum."""
    inv = _open_for(session, username, "oos_authorise", number)
    if not reason.strip():
        raise InputError(
            "a resample needs the reason the original sample is not representative (e.g. compromised)",
            place=number,
        )
    _phase_i_done(inv, "resamples")
    _maximum(session, inv, inv.retests_authorised, count)
    used = retests_used(session, inv, "resample")
    if count < used:
        raise InputError(f"{used} resamples were already performed", place=number)
    audit.update(
        session,
        inv,
        {"resamples_authorised": count, "resample_reason": reason.strip(), "authorised_by": username},
        username,
        f"resamples authorised: {reason.strip()}",
    )
    return inv


def retests_used(session: Session, inv: OosInvestigation, role: str | None = None) -> int:
    """Retests and resamples performed in the investigation (of one ``role``: 'retest' or 'resample')."""
    q = select(func.count()).select_from(ResultLabLink).where(ResultLabLink.investigation_id == inv.id)
    if role is not None:
        q = q.where(ResultLabLink.role == role)
    return session.execute(q).scalar_one()


def retests(session: Session, inv: OosInvestigation) -> list[tuple[Result, ResultLabLink]]:
    q = (
        select(Result, ResultLabLink)
        .join(ResultLabLink, ResultLabLink.result_id == Result.id)
        .where(ResultLabLink.investigation_id == inv.id)
        .order_by(Result.id)
    )
    return [(r, link) for r, link in session.execute(q)]


def check_retest(
    session: Session,
    number: str,
    cqa: str,
    stage: str,
    analyst: str,
    override_reason: str = "",
    resample: bool = False,
) -> OosInvestigation:
    """Refuse a retest (or, with ``resample``, a resample) that was not authorised, exceeds the
    authorisation, or is by the original analyst without a logged override."""
    inv = get_investigation(session, number)
    _open(inv)
    if (inv.cqa, inv.stage) != (cqa, stage):
        raise InputError(f"investigation {number} is about {inv.cqa} ({inv.stage}), not {cqa} ({stage})")
    kind = "resample" if resample else "retest"
    used = retests_used(session, inv, kind)
    allowed = inv.resamples_authorised if resample else inv.retests_authorised
    if used >= allowed:
        raise PermissionDenied(
            f"investigation {number}: {used} of {allowed} authorised {kind}s "
            f"performed; a supervisor must authorise a {kind} (`cgtqc oos authorise --{kind}s`)"
        )
    original = session.get(Result, inv.result_id)
    link = link_of(session, original.id)
    original_analyst = link.analyst if link is not None else original.entered_by
    if analyst == original_analyst and not override_reason.strip():
        raise PermissionDenied(
            f"investigation {number}: {analyst} performed the original test; a {kind} is "
            "done by another analyst (or give an override reason, which is logged)"
        )
    return inv


def start_phase_ii(session: Session, username: str, number: str, reason: str) -> OosInvestigation:
    """Escalate to the full-scale investigation (production, process, batch records; QA)."""
    inv = _open_for(session, username, "oos_phase_ii", number)
    if not reason.strip():
        raise InputError("phase II needs a reason (what phase I did not explain)", place=number)
    audit.update(session, inv, {"phase": "II", "phase_ii_reason": reason}, username, "phase II started")
    return inv


def record_phase_ii(
    session: Session, username: str, number: str, scope: str, findings: str
) -> OosInvestigation:
    """Record the full-scale investigation's scope (what was examined) and findings (what it found; QA)."""
    inv = _open_for(session, username, "oos_phase_ii", number)
    if inv.phase != "II":
        raise InputError(
            f"investigation {number} is in phase {inv.phase}; start phase II first", place=number
        )
    if not scope.strip() or not findings.strip():
        raise InputError("phase II needs its scope and its findings", place=number)
    audit.update(
        session,
        inv,
        {"phase_ii_scope": scope.strip(), "phase_ii_findings": findings.strip()},
        username,
        "phase II findings",
    )
    return inv


def close(
    session: Session,
    username: str,
    password: str,
    number: str,
    outcome: str,
    *,
    assignable_cause: str = "",
    conclusion: str = "",
    reportable_result_id: int | None = None,
) -> OosInvestigation:
    """Close with a supervisor's signature: ``confirmed`` OOS, or ``invalidated`` with an assignable cause
    (the last valid retest, or the one named, becomes reportable)."""
    user = signing.signer(session, username, password, *LAB_AUTHORITY["oos_close"])
    inv = get_investigation(session, number)
    _open(inv)
    choice(outcome, OOS_OUTCOMES, "outcome")
    if inv.phase == "II" and not inv.phase_ii_findings:
        raise InputError(
            f"investigation {number} is in phase II: record its scope and findings before closing "
            "(`cgtqc oos phase2-findings`)",
            place=number,
        )
    changes: dict = {
        "status": "closed",
        "outcome": outcome,
        "conclusion": conclusion.strip(),
        "closed_by": username,
        "closed_at": utcnow(),
    }
    if outcome == "invalidated":
        if not assignable_cause.strip():
            raise InputError("invalidating an OOS result needs the assignable cause", place=number)
        done = [(r, link) for r, link in retests(session, inv) if link.valid and r.value is not None]
        if not done:
            raise InputError("no valid retest was performed: nothing could become reportable", place=number)
        ids = [r.id for r, _ in done]
        chosen = reportable_result_id if reportable_result_id is not None else ids[-1]
        if chosen not in ids:
            raise InputError(f"result #{chosen} is not a valid retest of {number}", place=number)
        changes |= {"assignable_cause": assignable_cause.strip(), "reportable_result_id": chosen}
    audit.update(session, inv, changes, username, f"OOS investigation closed: {outcome}")
    signing.sign(session, user, inv, f"OOS {outcome}")
    return inv


def open_blockers(investigations: list[OosInvestigation]) -> list[str]:
    """One line per open investigation of a lot (:func:`investigations_of`): each blocks release."""
    return [
        f"{inv.cqa} ({inv.stage}): OOS investigation {inv.number} open (phase {inv.phase})"
        for inv in investigations
        if inv.status == "open"
    ]


def reportable_overrides(investigations: list[OosInvestigation]) -> dict[int, int]:
    """Original result id -> the retest that is reportable after its investigation (of a lot's
    :func:`investigations_of`) invalidated it."""
    return {
        inv.result_id: inv.reportable_result_id
        for inv in investigations
        if inv.outcome == "invalidated" and inv.reportable_result_id is not None
    }


def to_dict(session: Session, inv: OosInvestigation) -> dict:
    original = session.get(Result, inv.result_id)
    lot = session.get(Lot, inv.lot_id)
    mv = method_version_of(session, inv)
    return {
        "number": inv.number,
        "lot": lot.lot_number,
        "cqa": inv.cqa,
        "stage": inv.stage,
        "phase": inv.phase,
        "status": inv.status,
        "outcome": inv.outcome,
        "original": {
            "result_id": original.id,
            "value": original.value,
            "unit": original.unit,
            "entered_by": original.entered_by,
        },
        "checklist": json.loads(inv.checklist_json),
        "missing_checklist": missing_checklist(inv),
        "hypothesis": inv.hypothesis,
        "method_version": mv.label if mv else None,
        "max_retests": mv.max_retests if mv else None,
        "retests_authorised": inv.retests_authorised,
        "resamples_authorised": inv.resamples_authorised,
        "resample_reason": inv.resample_reason,
        "retests": [
            {
                "result_id": r.id,
                "value": r.value,
                "unit": r.unit,
                "analyst": link.analyst,
                "role": link.role,
                "valid": link.valid,
                "override": link.override_reason,
                "reportable": r.id == inv.reportable_result_id,
            }
            for r, link in retests(session, inv)
        ],
        "phase_ii_reason": inv.phase_ii_reason,
        "phase_ii_scope": inv.phase_ii_scope,
        "phase_ii_findings": inv.phase_ii_findings,
        "assignable_cause": inv.assignable_cause,
        "conclusion": inv.conclusion,
        "closed_by": inv.closed_by,
        "signatures": [
            {"by": s.username, "meaning": s.meaning, "at": s.signed_at.isoformat(timespec="seconds")}
            for s in signing.signatures_on(session, inv)
        ],
    }
