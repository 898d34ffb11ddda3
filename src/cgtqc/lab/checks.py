"""What a result was measured with, and whether that may stand: the checks ``lots.service.add_result`` runs.

A manual result with an out-of-calibration or unqualified instrument, an expired or unaccepted reagent lot, or
an analyst not qualified on the method version is refused with one line naming the reason. An engine run
with such an instrument or reagent is recorded but marked invalid: a failed validity check naming the reason,
so its verdict is ``invalid`` and it cannot release the lot. An analyst not qualified on the method cannot
enter its result either way. Without a method version, the one in effect for the CQA that day is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from cgtqc.errors import InputError
from cgtqc.lab import instruments, methods, reagents, reportable
from cgtqc.lab.models import Instrument, MethodVersion, ReagentLot, ResultLabLink, ResultReagent
from cgtqc.results import Measurement, ValidityCheck
from cgtqc.store import audit
from cgtqc.store.models import Result, utcnow


@dataclass(frozen=True)
class LabContext:
    """What the person or the manifest says a result was measured with (codes, not records)."""

    instrument: str | None = None
    reagents: tuple[str, ...] = ()
    method_version: str | None = None  # METHOD:VERSION; default: the version in effect for the CQA
    analyst: str | None = None  # default: the user entering the result


@dataclass
class CheckedContext:
    """The records behind a ``LabContext`` and the problems found with them."""

    analyst: str
    instrument: Instrument | None = None
    reagents: list[ReagentLot] = field(default_factory=list)
    method_version: MethodVersion | None = None
    invalid: list[str] = field(default_factory=list)  # instrument/reagent problems of an engine run


def is_manual(m: Measurement) -> bool:
    return m.provenance.engine == "manual-entry"


def check(
    session: Session, username: str, m: Measurement, ctx: LabContext | None, on: date | None = None
) -> tuple[Measurement, CheckedContext]:
    """Resolve ``ctx`` and judge it for ``m`` on ``on`` (today, UTC); refuse or mark invalid as above."""
    ctx = ctx or LabContext()
    on = on or utcnow().date()
    out = CheckedContext(ctx.analyst or username)
    place = f"result {m.cqa}"
    given = methods.get_method_version(session, ctx.method_version) if ctx.method_version else None
    # an engine test serving several CQAs names the method version of one; the others use theirs in effect
    if given is not None and (given.cqa == m.cqa or is_manual(m)):
        issue = methods.version_problem(given, m.cqa, on)
        if issue:
            raise InputError(issue, place=place)
        out.method_version = given
    else:
        out.method_version = methods.effective_version(session, m.cqa, on)
    if out.method_version is not None:
        issue = methods.analyst_problem(session, out.analyst, out.method_version, on)
        if issue:
            raise InputError(f"{issue}; the result is refused", place=place)
    problems = []
    if ctx.instrument:
        out.instrument = instruments.get_instrument(session, ctx.instrument)
        problems.append(instruments.problem(out.instrument, on))
    for code in dict.fromkeys(ctx.reagents):
        rl = reagents.get_reagent_lot(session, code)
        out.reagents.append(rl)
        problems.append(reagents.problem(rl, on))
    problems = [p for p in problems if p]
    if not problems:
        return m, out
    if is_manual(m):
        raise InputError(f"{problems[0]}; the result is refused", place=place)
    out.invalid = problems
    checks = [*m.checks, *(ValidityCheck("lab-record", False, p) for p in problems)]
    return replace(m, checks=checks), out


def record(
    session: Session,
    username: str,
    result: Result,
    checked: CheckedContext,
    role: str = "original",
    investigation_id: int | None = None,
    override_reason: str = "",
) -> ResultLabLink:
    """Link a stored result to its instrument, reagent lots, method version and analyst (audited).

    A replaced result keeps its one link, updated to what the new value was measured with."""
    fields = dict(
        instrument_id=checked.instrument.id if checked.instrument else None,
        method_version_id=checked.method_version.id if checked.method_version else None,
        analyst=checked.analyst,
        role=role,
        investigation_id=investigation_id,
        valid=not checked.invalid,
        invalid_reason="; ".join(checked.invalid),
        override_reason=override_reason,
    )
    link = link_of(session, result.id)
    if link is None:
        link = ResultLabLink(result_id=result.id, **fields)
        audit.add(session, link, username, reason="result lab record")
    else:
        audit.update(session, link, fields, username, "result replaced: lab record updated")
    used = set(
        session.execute(
            select(ResultReagent.reagent_lot_id).where(ResultReagent.result_id == result.id)
        ).scalars()
    )
    for rl in checked.reagents:
        if rl.id not in used:
            audit.add(
                session,
                ResultReagent(result_id=result.id, reagent_lot_id=rl.id),
                username,
                reason="reagent lot used",
            )
    return link


def link_of(session: Session, result_id: int) -> ResultLabLink | None:
    return session.execute(select(ResultLabLink).where(ResultLabLink.result_id == result_id)).scalar()


def describe(session: Session, result_id: int) -> dict:
    """The lab record of a result for display: instrument, reagent lots, method version, analyst, role."""
    return describe_results(session, [result_id]).get(result_id, {})


def describe_results(session: Session, result_ids: list[int]) -> dict[int, dict]:
    """:func:`describe` of many results: one query finds which have a lab record (most have none)."""
    if not result_ids:
        return {}
    query = select(ResultLabLink).where(ResultLabLink.result_id.in_(result_ids))
    links = session.execute(query).scalars().all()
    return {link.result_id: _describe_link(session, link) for link in links}


def _describe_link(session: Session, link: ResultLabLink) -> dict:
    result_id = link.result_id
    inst = session.get(Instrument, link.instrument_id) if link.instrument_id else None
    mv = session.get(MethodVersion, link.method_version_id) if link.method_version_id else None
    lots = session.execute(
        select(ReagentLot.lot_number)
        .join(ResultReagent, ResultReagent.reagent_lot_id == ReagentLot.id)
        .where(ResultReagent.result_id == result_id)
    ).scalars()
    return {
        "instrument": inst.code if inst else None,
        "reagents": list(lots),
        "method_version": mv.label if mv else None,
        "analyst": link.analyst,
        "role": link.role,
        "valid": link.valid,
        "invalid_reason": link.invalid_reason,
        "override": link.override_reason,
        "reportable": _reportable(session, result_id),
    }


def _reportable(session: Session, result_id: int) -> dict | None:
    """The replicates and rule behind the result's value, when it was computed by ``method reportable``."""
    rec = reportable.current_record(session, session.get(Result, result_id))
    return reportable.record_to_dict(session, rec) if rec is not None else None
