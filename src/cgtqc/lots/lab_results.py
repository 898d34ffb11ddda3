"""The laboratory quality system's part in entering a result (called by ``service.add_result``).

Before a result is stored: its instrument, reagent lots, method version and analyst are checked
(``cgtqc.lab.checks``: refused, or an engine run marked invalid), and a retest is checked against its OOS
investigation (authorised, within the method's maximum, another analyst or a logged override). After: the lab
record is linked to the row, an OOS verdict opens a phase I investigation, and a late positive sterility or
mycoplasma result of a conditionally released lot notifies physician, QP and authority and opens a deviation.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

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
) -> tuple[Measurement, CheckedContext, OosInvestigation | None]:
    """Check the lab record (and the retest's authorisation); returns the measurement as it will be stored."""
    m, checked = checks.check(session, username, m, lab)
    inv = None
    if retest_of:
        inv = oos.check_retest(session, retest_of, m.cqa, stage, checked.analyst, override_reason)
    return m, checked, inv


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
) -> None:
    """Link the lab record, open an OOS investigation on an OOS verdict, handle a late positive result."""
    given = checked.instrument or checked.reagents or checked.method_version
    if inv is not None or given:
        checks.record(
            session,
            username,
            row,
            checked,
            "retest" if inv else "original",
            inv.id if inv else None,
            override_reason,
        )
    verdict = evaluate(line, m)
    if verdict.verdict == "fail" and inv is None:
        oos.open_for_result(session, username, lot, row, verdict.reason)
    if follow_up:
        atmp.on_late_result(session, username, lot, row, verdict.verdict)
