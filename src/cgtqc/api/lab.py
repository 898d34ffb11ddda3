"""``/api/v1`` lab routes: instruments, reagent lots, method versions, analyst qualifications, OOS
investigations and deviations. Thin: each route calls the lab service function the CLI calls, which checks
the caller's role (403 naming it) and writes the audit trail; a refusal is one line (422)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as FPath
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from cgtqc.api.deps import NotFound, allowed, read_scope, write_scope
from cgtqc.errors import InputError
from cgtqc.lab import atmp, deviations, instruments, methods, oos, reagents
from cgtqc.lab.reportable import record_to_dict as rec_dict
from cgtqc.lab.reportable import records_of as reportable_records
from cgtqc.lab.reportable import reportable
from cgtqc.lots import service
from cgtqc.lots.conditional import supply_out_of_specification
from cgtqc.lots.reportable import enter_reportable
from cgtqc.store.models import Result
from cgtqc.store.sessions import Principal

router = APIRouter(tags=["lab"])

# Everyone signed in reaches a lab route; the lab service functions hold the authority (as in the CLI).
User = Annotated[Principal, Depends(allowed("read"))]
T = TypeVar("T")
Code = Field(min_length=1, max_length=64)
Text = Field("", max_length=4000)
Reason = Field(min_length=1, max_length=2000, pattern=r"\S")


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class InstrumentCreate(_Body):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=64)
    location: str = Field("", max_length=200)


class Qualification(_Body):
    stage: Literal["iq", "oq", "pq"]
    on: date


class Dated(_Body):
    """A calibration or maintenance: done ``on``, next ``due``."""

    on: date
    due: date


class StatusChange(_Body):
    status: str = Field(min_length=1, max_length=32)
    reason: str = Reason


class ReasonOnly(_Body):
    reason: str = Reason


class ReagentLotCreate(_Body):
    lot_number: str = Code
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field("reagent", max_length=64)
    expires_on: date
    storage: str = Field("", max_length=200)
    supplier: str = Field("", max_length=200)


class ReagentStatus(_Body):
    status: Literal["accepted", "rejected"]
    reason: str = Field("incoming check passed", min_length=1, max_length=2000, pattern=r"\S")


class MethodVersionCreate(_Body):
    method: str = Code
    version: str = Field(min_length=1, max_length=32)
    cqa: str = Code
    effective_from: date
    validation_report: str = Field("", max_length=500)
    max_retests: int = Field(1, ge=0, le=10)
    averaging_allowed: bool = False
    outlier_test_allowed: bool = False


class AnalystQualify(_Body):
    analyst: str = Code
    method_version: str = Field(min_length=1, max_length=100, description="METHOD:VERSION")
    trained_on: date
    expires_on: date


class AnalystRevoke(_Body):
    analyst: str = Code
    method_version: str = Field(min_length=1, max_length=100)
    reason: str = Reason


class PhaseI(_Body):
    findings: dict[str, str] = Field(
        default_factory=dict, description="calculation, instrument, standards, method, analyst, sample"
    )
    hypothesis: str | None = Field(None, max_length=4000)


class Authorise(_Body):
    retests: int = Field(ge=0, le=10, description="retests authorised in all")
    reason: str = Reason


class AuthoriseResamples(_Body):
    resamples: int = Field(ge=0, le=10, description="resamples authorised in all")
    reason: str = Field(
        min_length=1,
        max_length=2000,
        pattern=r"\S",
        description="why the original sample is not representative",
    )


class PhaseIIFindings(_Body):
    scope: str = Field(min_length=1, max_length=4000, pattern=r"\S", description="what was examined")
    findings: str = Field(min_length=1, max_length=4000, pattern=r"\S", description="what it found")


class OosClose(_Body):
    """The supervisor's signed outcome; the password is entered again."""

    outcome: Literal["confirmed", "invalidated"]
    password: str = Field(min_length=1, max_length=1000)
    assignable_cause: str = Text
    conclusion: str = Text
    reportable_result_id: int | None = Field(None, ge=1, le=2**31 - 1)


class DeviationCreate(_Body):
    title: str = Field(min_length=1, max_length=200)
    owner: str = Code
    due_on: date
    description: str = Text
    lot: str | None = Field(None, max_length=64)
    result_id: int | None = Field(None, ge=1, le=2**31 - 1)
    investigation: str | None = Field(None, max_length=64)


class ReplicateValues(_Body):
    """Replicate values of one test; averaging and the outlier test only where the method version allows.
    With ``lot`` the reportable value is entered as the lot's result (and the computation stored)."""

    values: list[Annotated[float, Field(allow_inf_nan=False)]] = Field(min_length=1, max_length=1000)
    average: bool = False
    outlier_test: bool = False
    lot: str | None = Field(None, min_length=1, max_length=64)
    stage: str = Field("release", min_length=1, max_length=64)
    instrument: str | None = Field(None, max_length=64)
    reagents: list[str] = Field(default_factory=list, max_length=50)
    retest_of: str | None = Field(None, max_length=64)
    override: str = Field("", max_length=2000)
    replace_reason: str | None = Field(None, max_length=2000)


class OosSupply(_Body):
    """Supply of an out-of-specification ATMP lot (EU GMP Part IV §11.54); the QP's password again."""

    lot: str = Code
    physician: str = Field(min_length=1, max_length=200)
    request: str = Field(min_length=1, max_length=4000, description="the physician's request")
    risk_evaluation: str = Field(min_length=1, max_length=4000)
    authority: str = Field(min_length=1, max_length=200, description="competent authority notified")
    password: str = Field(min_length=1, max_length=1000)


class CapaCreate(_Body):
    kind: Literal["corrective", "preventive"]
    description: str = Field(min_length=1, max_length=4000)
    owner: str = Code
    due_on: date


class CapaStatus(_Body):
    status: Literal["done", "verified"]
    reason: str = Field("", max_length=2000)


def _found(get: Callable[[Session, str], T], s: Session, key: str) -> T:
    """The record ``get`` finds, or 404 with the service's own line."""
    try:
        return get(s, key)
    except InputError as exc:
        raise NotFound(str(exc)) from None


def _read(request: Request, fn: Callable[[Session], Any]) -> Any:
    with read_scope(request) as s:
        return fn(s)


def _write(request: Request, fn: Callable[[Session], Any]) -> Any:
    with write_scope(request) as s:
        return fn(s)


# Instruments


@router.get("/instruments")
def list_instruments(request: Request, who: User) -> list[dict[str, Any]]:
    """Every instrument: qualification, calibration and maintenance dates, and whether it may serve today."""
    return _read(request, lambda s: [instruments.to_dict(i) for i in instruments.list_instruments(s)])


@router.post("/instruments", status_code=201)
def add_instrument(request: Request, body: InstrumentCreate, who: User) -> dict[str, Any]:
    """Register an instrument (unqualified until IQ, OQ and PQ are recorded)."""
    return _write(
        request,
        lambda s: instruments.to_dict(
            instruments.add_instrument(s, who.username, body.code, body.name, body.kind, body.location)
        ),
    )


@router.get("/instruments/{code}")
def get_instrument(request: Request, code: str, who: User) -> dict[str, Any]:
    """One instrument's record."""
    return _read(request, lambda s: instruments.to_dict(_found(instruments.get_instrument, s, code)))


@router.post("/instruments/{code}/qualifications", status_code=201)
def qualify_instrument(request: Request, code: str, body: Qualification, who: User) -> dict[str, Any]:
    """Record the completion of IQ, OQ or PQ (reviewer or QA)."""
    return _write(
        request,
        lambda s: instruments.to_dict(
            instruments.record_qualification(s, who.username, code, body.stage, body.on)
        ),
    )


@router.post("/instruments/{code}/calibrations", status_code=201)
def calibrate_instrument(request: Request, code: str, body: Dated, who: User) -> dict[str, Any]:
    """Record a calibration and the next due date."""
    return _write(
        request,
        lambda s: instruments.to_dict(
            instruments.record_calibration(s, who.username, code, body.on, body.due)
        ),
    )


@router.post("/instruments/{code}/maintenance", status_code=201)
def maintain_instrument(request: Request, code: str, body: Dated, who: User) -> dict[str, Any]:
    """Record preventive maintenance and the next due date."""
    return _write(
        request,
        lambda s: instruments.to_dict(
            instruments.record_maintenance(s, who.username, code, body.on, body.due)
        ),
    )


@router.post("/instruments/{code}/status")
def instrument_status(request: Request, code: str, body: StatusChange, who: User) -> dict[str, Any]:
    """'in service', 'out of service' or 'retired', with the reason (reviewer, QA or admin)."""
    return _write(
        request,
        lambda s: instruments.to_dict(
            instruments.set_status(s, who.username, code, body.status, body.reason)
        ),
    )


# Reagent lots


@router.get("/reagent-lots")
def list_reagent_lots(request: Request, who: User) -> list[dict[str, Any]]:
    """Every reagent, kit, reference standard and control lot: expiry, status, whether it may serve today."""
    return _read(request, lambda s: [reagents.to_dict(r) for r in reagents.list_reagent_lots(s)])


@router.post("/reagent-lots", status_code=201)
def add_reagent_lot(request: Request, body: ReagentLotCreate, who: User) -> dict[str, Any]:
    """Receive a lot (in quarantine until accepted)."""
    return _write(
        request,
        lambda s: reagents.to_dict(
            reagents.add_reagent_lot(
                s,
                who.username,
                body.lot_number,
                body.name,
                body.kind,
                body.expires_on,
                body.storage,
                body.supplier,
            )
        ),
    )


@router.get("/reagent-lots/{lot_number}")
def get_reagent_lot(request: Request, lot_number: str, who: User) -> dict[str, Any]:
    """One lot, with the results and product lots that used it."""

    def show(s: Session) -> dict[str, Any]:
        rl = _found(reagents.get_reagent_lot, s, lot_number)
        return {**reagents.to_dict(rl), "used_by": reagents.affected_to_dict(*reagents.affected(s, rl))}

    return _read(request, show)


@router.post("/reagent-lots/{lot_number}/status")
def reagent_status(request: Request, lot_number: str, body: ReagentStatus, who: User) -> dict[str, Any]:
    """Accept or reject a lot after its incoming check (reviewer or QA)."""
    return _write(
        request,
        lambda s: reagents.to_dict(
            reagents.set_status(s, who.username, lot_number, body.status, body.reason)
        ),
    )


@router.post("/reagent-lots/{lot_number}/recall")
def recall_reagent_lot(request: Request, lot_number: str, body: ReasonOnly, who: User) -> dict[str, Any]:
    """Recall a lot (QA): it serves no further result; answers every result and product lot it affects."""
    return _write(
        request,
        lambda s: {
            "lot_number": lot_number,
            **reagents.affected_to_dict(*reagents.recall(s, who.username, lot_number, body.reason)),
        },
    )


# Method versions and analyst qualifications


@router.get("/method-versions")
def list_method_versions(request: Request, who: User) -> list[dict[str, Any]]:
    """Every method version: effective dates, validation report, retest maximum, reportable rules."""
    return _read(request, lambda s: [methods.to_dict(mv) for mv in methods.list_method_versions(s)])


@router.post("/method-versions", status_code=201)
def add_method_version(request: Request, body: MethodVersionCreate, who: User) -> dict[str, Any]:
    """Make a method version effective (QA); the method's previous version ends that day."""
    return _write(
        request,
        lambda s: methods.to_dict(
            methods.add_method_version(
                s,
                who.username,
                body.method,
                body.version,
                body.cqa,
                body.effective_from,
                validation_report=body.validation_report,
                max_retests=body.max_retests,
                averaging_allowed=body.averaging_allowed,
                outlier_test_allowed=body.outlier_test_allowed,
            )
        ),
    )


@router.get("/method-versions/{label}")
def get_method_version(request: Request, label: str, who: User) -> dict[str, Any]:
    """One method version (METHOD:VERSION)."""
    return _read(request, lambda s: methods.to_dict(_found(methods.get_method_version, s, label)))


@router.post("/method-versions/{label}/reportable", responses={201: {"description": "stored"}})
def reportable_value(
    request: Request, response: Response, label: str, body: ReplicateValues, who: User
) -> dict[str, Any]:
    """The reportable value of replicate values under the method version's rules (422 where it forbids
    averaging or the outlier test); with ``lot``, entered as the lot's result (201; analyst, reviewer or QA)
    and the computation stored, as ``cgtqc method reportable --lot`` does."""
    if body.lot is None:

        def compute(s: Session) -> dict[str, Any]:
            mv = _found(methods.get_method_version, s, label)
            r = reportable(mv, body.values, average=body.average, outlier_test=body.outlier_test)
            return {"method_version": mv.label, **r.to_dict()}

        return _read(request, compute)

    def store(s: Session) -> dict[str, Any]:
        added, rec = enter_reportable(
            s,
            who.username,
            body.lot,
            label,
            body.values,
            average=body.average,
            outlier_test=body.outlier_test,
            stage=body.stage,
            instrument=body.instrument,
            reagents=body.reagents,
            retest_of=body.retest_of,
            override_reason=body.override,
            replace_reason=body.replace_reason,
            via="api",
        )
        doc = {**rec_dict(s, rec), "lot": body.lot, "voided_signatures": added.voided_signatures}
        return doc

    doc = _write(request, store)
    response.status_code = 201
    return doc


@router.get("/reportable-results")
def list_reportable_results(
    request: Request, who: User, lot: str = Query(min_length=1, max_length=64)
) -> list[dict[str, Any]]:
    """Every reportable value computed from replicates and entered for the lot, oldest first."""
    return _read(
        request,
        lambda s: [rec_dict(s, r) for r in reportable_records(s, _found(service.get_lot, s, lot))],
    )


@router.get("/analyst-qualifications")
def list_qualifications(
    request: Request, who: User, analyst: str | None = Query(None, max_length=64)
) -> list[dict[str, Any]]:
    """Analyst qualifications per method version (of one analyst, or all)."""
    return _read(
        request,
        lambda s: [methods.qualification_to_dict(q, mv) for q, mv in methods.qualifications(s, analyst)],
    )


@router.post("/analyst-qualifications", status_code=201)
def qualify_analyst(request: Request, body: AnalystQualify, who: User) -> dict[str, Any]:
    """Record an analyst's qualification on a method version (reviewer or QA, as trainer)."""

    def qualify(s: Session) -> dict[str, Any]:
        q = methods.qualify_analyst(
            s, who.username, body.analyst, body.method_version, body.trained_on, body.expires_on
        )
        return methods.qualification_to_dict(q, methods.get_method_version(s, body.method_version))

    return _write(request, qualify)


@router.post("/analyst-qualifications/revocations")
def revoke_qualification(request: Request, body: AnalystRevoke, who: User) -> dict[str, Any]:
    """Revoke a qualification (reviewer or QA), with the reason."""

    def revoke(s: Session) -> dict[str, Any]:
        methods.revoke_analyst(s, who.username, body.analyst, body.method_version, body.reason)
        return {"analyst": body.analyst, "method_version": body.method_version, "revoked": True}

    return _write(request, revoke)


# OOS investigations


@router.get("/oos")
def list_investigations(request: Request, who: User, open_only: bool = False) -> list[dict[str, Any]]:
    """OOS investigations, oldest first (``open_only``: the open ones)."""
    return _read(request, lambda s: [oos.to_dict(s, i) for i in oos.list_investigations(s, open_only)])


@router.get("/oos/{number}")
def get_investigation(request: Request, number: str, who: User) -> dict[str, Any]:
    """One investigation: original result, checklist, retests, outcome and signatures."""
    return _read(request, lambda s: oos.to_dict(s, _found(oos.get_investigation, s, number)))


@router.post("/oos/{number}/phase1")
def phase_i(request: Request, number: str, body: PhaseI, who: User) -> dict[str, Any]:
    """Record phase I checklist findings and the hypothesis (analyst, reviewer or QA)."""
    return _write(
        request,
        lambda s: oos.to_dict(s, oos.record_phase_i(s, who.username, number, body.findings, body.hypothesis)),
    )


@router.post("/oos/{number}/retests")
def authorise_retests(request: Request, number: str, body: Authorise, who: User) -> dict[str, Any]:
    """Authorise retests (supervisor) within the method version's maximum; needs a complete phase I.
    A retest is then entered at ``POST /lots/{lot_id}/results`` with ``retest_of``."""
    return _write(
        request,
        lambda s: oos.to_dict(s, oos.authorise_retests(s, who.username, number, body.retests, body.reason)),
    )


@router.post("/oos/{number}/resamples")
def authorise_resamples(request: Request, number: str, body: AuthoriseResamples, who: User) -> dict[str, Any]:
    """Authorise resamples, new samples of the lot (supervisor), with the reason the original sample is not
    representative; retests and resamples together within the method version's maximum. A resample is then
    entered at ``POST /lots/{lot_id}/results`` with ``retest_of`` and ``resample=true``."""
    return _write(
        request,
        lambda s: oos.to_dict(
            s, oos.authorise_resamples(s, who.username, number, body.resamples, body.reason)
        ),
    )


@router.post("/oos/{number}/phase2")
def phase_ii(request: Request, number: str, body: ReasonOnly, who: User) -> dict[str, Any]:
    """Escalate to the full-scale (phase II) investigation (QA)."""
    return _write(request, lambda s: oos.to_dict(s, oos.start_phase_ii(s, who.username, number, body.reason)))


@router.post("/oos/{number}/phase2/findings")
def phase_ii_findings(request: Request, number: str, body: PhaseIIFindings, who: User) -> dict[str, Any]:
    """Record the phase II investigation's scope and findings (QA); a phase II case closes only after."""
    return _write(
        request,
        lambda s: oos.to_dict(s, oos.record_phase_ii(s, who.username, number, body.scope, body.findings)),
    )


@router.post("/oos/{number}/close")
def close_investigation(request: Request, number: str, body: OosClose, who: User) -> dict[str, Any]:
    """Close with the supervisor's e-signature (password again): confirmed OOS, or invalidated with an
    assignable cause (the last valid retest, or the one named, becomes reportable)."""
    return _write(
        request,
        lambda s: oos.to_dict(
            s,
            oos.close(
                s,
                who.username,
                body.password,
                number,
                body.outcome,
                assignable_cause=body.assignable_cause,
                conclusion=body.conclusion,
                reportable_result_id=body.reportable_result_id,
            ),
        ),
    )


@router.post("/oos/supply", status_code=201)
def supply(request: Request, body: OosSupply, who: User) -> dict[str, Any]:
    """Supply an out-of-specification lot at the physician's request (QA as QP, signed with the password
    again); the physician and authority notifications are recorded. A lot that is not OOS answers 409."""
    return _write(
        request,
        lambda s: atmp.exceptional_to_dict(
            supply_out_of_specification(
                s,
                who.username,
                body.password,
                body.lot,
                physician=body.physician,
                physician_request=body.request,
                risk_evaluation=body.risk_evaluation,
                authority=body.authority,
            ),
            body.lot,
        ),
    )


# Deviations


@router.get("/deviations")
def list_deviations(
    request: Request, who: User, lot: str | None = Query(None, max_length=64)
) -> list[dict[str, Any]]:
    """Deviations (of one lot, or all)."""
    return _read(
        request,
        lambda s: [
            deviations.to_dict(s, d)
            for d in deviations.list_deviations(s, _found(service.get_lot, s, lot) if lot else None)
        ],
    )


@router.post("/deviations", status_code=201)
def open_deviation(request: Request, body: DeviationCreate, who: User) -> dict[str, Any]:
    """Open a deviation (anyone), linked to a lot, a result id and/or an OOS investigation."""

    def open_(s: Session) -> dict[str, Any]:
        result = s.get(Result, body.result_id) if body.result_id is not None else None
        if body.result_id is not None and result is None:
            raise InputError(f"no result #{body.result_id}", place="result_id")
        dev = deviations.open_deviation(
            s,
            who.username,
            body.title,
            body.owner,
            body.due_on,
            description=body.description,
            lot=service.get_lot(s, body.lot) if body.lot else None,
            result=result,
            investigation=oos.get_investigation(s, body.investigation) if body.investigation else None,
        )
        return deviations.to_dict(s, dev)

    return _write(request, open_)


@router.get("/deviations/overdue")
def overdue(request: Request, who: User, on: date | None = None) -> list[dict[str, Any]]:
    """Deviations not closed and open CAPA actions past their due date on ``on`` (default today)."""
    return _read(request, lambda s: deviations.overdue_items(s, on or date.today()))


@router.get("/deviations/{number}")
def get_deviation(request: Request, number: str, who: User) -> dict[str, Any]:
    """One deviation with its CAPA actions."""
    return _read(request, lambda s: deviations.to_dict(s, _found(deviations.get_deviation, s, number)))


@router.post("/deviations/{number}/status")
def deviation_status(request: Request, number: str, body: StatusChange, who: User) -> dict[str, Any]:
    """Move a deviation on: investigation, capa, or closed (QA, every CAPA action done)."""
    return _write(
        request,
        lambda s: deviations.to_dict(
            s, deviations.set_status(s, who.username, number, body.status, body.reason)
        ),
    )


@router.post("/deviations/{number}/capa", status_code=201)
def add_capa(request: Request, number: str, body: CapaCreate, who: User) -> dict[str, Any]:
    """Add a corrective or preventive action (reviewer or QA); the deviation moves to 'capa'. Answers the
    deviation with its actions."""

    def add(s: Session) -> dict[str, Any]:
        a = deviations.add_capa(s, who.username, number, body.kind, body.description, body.owner, body.due_on)
        return deviations.to_dict(s, deviations.deviation_of(s, a))

    return _write(request, add)


@router.post("/capa-actions/{action_id}/status")
def capa_status(
    request: Request, action_id: Annotated[int, FPath(ge=1, le=2**31 - 1)], body: CapaStatus, who: User
) -> dict[str, Any]:
    """Mark a CAPA action done (its owner or QA) or verified (QA); answers its deviation."""

    def change(s: Session) -> dict[str, Any]:
        a = deviations.set_capa_status(s, who.username, action_id, body.status, body.reason)
        return deviations.to_dict(s, deviations.deviation_of(s, a))

    return _write(request, change)
