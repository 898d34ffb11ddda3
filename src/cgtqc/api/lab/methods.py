"""``/api/v1`` lab routes for methods: method versions, reportable values computed and stored, analyst
qualifications and their revocation."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field
from sqlalchemy.orm import Session

from cgtqc.api.lab.common import (
    Body,
    Code,
    Reason,
    User,
    found,
    read,
    write,
)
from cgtqc.lab import methods
from cgtqc.lab.reportable import record_to_dict as rec_dict
from cgtqc.lab.reportable import records_of as reportable_records
from cgtqc.lab.reportable import reportable
from cgtqc.lots import service
from cgtqc.lots.reportable import enter_reportable

router = APIRouter()


class MethodVersionCreate(Body):
    method: str = Code
    version: str = Field(min_length=1, max_length=32)
    cqa: str = Code
    effective_from: date
    validation_report: str = Field("", max_length=500)
    max_retests: int = Field(1, ge=0, le=10)
    averaging_allowed: bool = False
    outlier_test_allowed: bool = False


class ReplicateValues(Body):
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


class AnalystQualify(Body):
    analyst: str = Code
    method_version: str = Field(min_length=1, max_length=100, description="METHOD:VERSION")
    trained_on: date
    expires_on: date


class AnalystRevoke(Body):
    analyst: str = Code
    method_version: str = Field(min_length=1, max_length=100)
    reason: str = Reason



@router.get("/method-versions")
def list_method_versions(request: Request, who: User) -> list[dict[str, Any]]:
    """Every method version: effective dates, validation report, retest maximum, reportable rules."""
    return read(request, lambda s: [methods.to_dict(mv) for mv in methods.list_method_versions(s)])


@router.post("/method-versions", status_code=201)
def add_method_version(request: Request, body: MethodVersionCreate, who: User) -> dict[str, Any]:
    """Make a method version effective (QA); the method's previous version ends that day."""
    return write(
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
    return read(request, lambda s: methods.to_dict(found(methods.get_method_version, s, label)))


@router.post("/method-versions/{label}/reportable", responses={201: {"description": "stored"}})
def reportable_value(
    request: Request, response: Response, label: str, body: ReplicateValues, who: User
) -> dict[str, Any]:
    """The reportable value of replicate values under the method version's rules (422 where it forbids
    averaging or the outlier test); with ``lot``, entered as the lot's result (201; analyst, reviewer or QA)
    and the computation stored, as ``cgtqc method reportable --lot`` does."""
    if body.lot is None:

        def compute(s: Session) -> dict[str, Any]:
            mv = found(methods.get_method_version, s, label)
            r = reportable(mv, body.values, average=body.average, outlier_test=body.outlier_test)
            return {"method_version": mv.label, **r.to_dict()}

        return read(request, compute)

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

    doc = write(request, store)
    response.status_code = 201
    return doc


@router.get("/reportable-results")
def list_reportable_results(
    request: Request, who: User, lot: str = Query(min_length=1, max_length=64)
) -> list[dict[str, Any]]:
    """Every reportable value computed from replicates and entered for the lot, oldest first."""
    return read(
        request,
        lambda s: [rec_dict(s, r) for r in reportable_records(s, found(service.get_lot, s, lot))],
    )


@router.get("/analyst-qualifications")
def list_qualifications(
    request: Request, who: User, analyst: str | None = Query(None, max_length=64)
) -> list[dict[str, Any]]:
    """Analyst qualifications per method version (of one analyst, or all)."""
    return read(
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

    return write(request, qualify)


@router.post("/analyst-qualifications/revocations")
def revoke_qualification(request: Request, body: AnalystRevoke, who: User) -> dict[str, Any]:
    """Revoke a qualification (reviewer or QA), with the reason."""

    def revoke(s: Session) -> dict[str, Any]:
        methods.revoke_analyst(s, who.username, body.analyst, body.method_version, body.reason)
        return {"analyst": body.analyst, "method_version": body.method_version, "revoked": True}

    return write(request, revoke)
