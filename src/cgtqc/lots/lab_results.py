"""The laboratory quality system's part in entering a result (called by ``service.add_result``).

Before a result is stored: its instrument, reagent lots, method version and analyst are checked
(``cgtqc.lab.checks``: refused, or an engine run marked invalid), and a retest is checked against its OOS
investigation (authorised, within the method's maximum, another analyst or a logged override). After: the lab
record is linked to the row, an OOS verdict opens a phase I investigation, and a late positive sterility or
mycoplasma result of a conditionally released lot notifies physician, QP and authority and opens a deviation.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cgtqc.errors import InputError
from cgtqc.lab import atmp, checks, oos
from cgtqc.lab.checks import CheckedContext, LabContext
from cgtqc.lab.models import OosInvestigation
from cgtqc.results import Measurement
from cgtqc.specs import evaluate
from cgtqc.specs.model import SpecLine
from cgtqc.store.models import Lot, Result


def before_store(
    session: Session,
    username: str,
    m: Measurement,
    stage: str,
    lab: LabContext | None,
    retest_of: str | None,
    override_reason: str,
    resample: bool = False,
) -> tuple[Measurement, CheckedContext, OosInvestigation | None]:
    """Check the lab record (and the retest's or resample's authorisation); returns the measurement as it
    will be stored."""
    m, checked = checks.check(session, username, m, lab)
    inv = None
    if resample and not retest_of:
        raise InputError("a resample belongs to an OOS investigation: name it (retest_of)", place="resample")
    if retest_of:
        inv = oos.check_retest(session, retest_of, m.cqa, stage, checked.analyst, override_reason, resample)
    return m, checked, inv


def investigation_of(session: Session, result: Result) -> OosInvestigation | None:
    """The OOS investigation a result is the original or a retest of."""
    inv = session.execute(select(OosInvestigation).where(OosInvestigation.result_id == result.id)).scalar()
    link = checks.link_of(session, result.id)
    if inv is None and link is not None and link.investigation_id is not None:
        inv = session.get(OosInvestigation, link.investigation_id)
    return inv


def refuse_replacing(session: Session, result: Result) -> None:
    """Results under an OOS investigation are never replaced (no testing into compliance): retest instead."""
    inv = investigation_of(session, result)
    if inv is not None:
        raise InputError(
            f"{result.cqa} ({result.stage}) is under OOS investigation {inv.number}: its results are "
            f"never replaced; enter a retest with --retest-of {inv.number}",
            place=f"result {result.cqa}",
        )


def first_reported(session: Session, result: Result) -> Result:
    """The original result of an investigation when ``result`` is its reportable retest, else ``result``."""
    inv = investigation_of(session, result)
    return session.get(Result, inv.result_id) if inv is not None else result


def after_store(
    session: Session,
    username: str,
    lot: Lot,
    line: SpecLine,
    m: Measurement,
    row: Result,
    checked: CheckedContext,
    inv: OosInvestigation | None = None,
    *,
    follow_up: bool = False,
    override_reason: str = "",
    resample: bool = False,
) -> None:
    """Link the lab record, open an OOS investigation on an OOS verdict, handle a late positive result."""
    given = checked.instrument or checked.reagents or checked.method_version
    if inv is not None or given:
        checks.record(
            session,
            username,
            row,
            checked,
            ("resample" if resample else "retest") if inv else "original",
            inv.id if inv else None,
            override_reason,
        )
    verdict = evaluate(line, m)
    if verdict.verdict == "fail" and inv is None:
        oos.open_for_result(session, username, lot, row, verdict.reason)
    if follow_up:
        atmp.on_late_result(session, username, lot, row, verdict.verdict)
