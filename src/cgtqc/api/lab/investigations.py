"""``/api/v1`` lab routes for OOS investigations (FDA OOS guidance): phase I, retests and resamples,
phase II and its findings, the signed close, and the supply of an out-of-specification ATMP lot."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import Field

from cgtqc.api.lab.common import (
    Body,
    Code,
    Reason,
    ReasonOnly,
    Text,
    User,
    found,
    read,
    write,
)
from cgtqc.lab import atmp, oos
from cgtqc.lots.conditional import supply_out_of_specification

router = APIRouter()


class PhaseI(Body):
    findings: dict[str, str] = Field(
        default_factory=dict, description="calculation, instrument, standards, method, analyst, sample"
    )
    hypothesis: str | None = Field(None, max_length=4000)


class Authorise(Body):
    retests: int = Field(ge=0, le=10, description="retests authorised in all")
    reason: str = Reason


class AuthoriseResamples(Body):
    resamples: int = Field(ge=0, le=10, description="resamples authorised in all")
    reason: str = Field(
        min_length=1,
        max_length=2000,
        pattern=r"\S",
        description="why the original sample is not representative",
    )


class PhaseIIFindings(Body):
    scope: str = Field(min_length=1, max_length=4000, pattern=r"\S", description="what was examined")
    findings: str = Field(min_length=1, max_length=4000, pattern=r"\S", description="what it found")


class OosClose(Body):
    """The supervisor's signed outcome; the password is entered again."""

    outcome: Literal["confirmed", "invalidated"]
    password: str = Field(min_length=1, max_length=1000)
    assignable_cause: str = Text
    conclusion: str = Text
    reportable_result_id: int | None = Field(None, ge=1, le=2**31 - 1)


class OosSupply(Body):
    """Supply of an out-of-specification ATMP lot (EU GMP Part IV §11.54); the QP's password again."""

    lot: str = Code
    physician: str = Field(min_length=1, max_length=200)
    request: str = Field(min_length=1, max_length=4000, description="the physician's request")
    risk_evaluation: str = Field(min_length=1, max_length=4000)
    authority: str = Field(min_length=1, max_length=200, description="competent authority notified")
    password: str = Field(min_length=1, max_length=1000)



@router.get("/oos")
def list_investigations(request: Request, who: User, open_only: bool = False) -> list[dict[str, Any]]:
    """OOS investigations, oldest first (``open_only``: the open ones)."""
    return read(request, lambda s: [oos.to_dict(s, i) for i in oos.list_investigations(s, open_only)])


@router.get("/oos/{number}")
def get_investigation(request: Request, number: str, who: User) -> dict[str, Any]:
    """One investigation: original result, checklist, retests, outcome and signatures."""
    return read(request, lambda s: oos.to_dict(s, found(oos.get_investigation, s, number)))


@router.post("/oos/{number}/phase1")
def phase_i(request: Request, number: str, body: PhaseI, who: User) -> dict[str, Any]:
    """Record phase I checklist findings and the hypothesis (analyst, reviewer or QA)."""
    return write(
        request,
        lambda s: oos.to_dict(s, oos.record_phase_i(s, who.username, number, body.findings, body.hypothesis)),
    )


@router.post("/oos/{number}/retests")
def authorise_retests(request: Request, number: str, body: Authorise, who: User) -> dict[str, Any]:
    """Authorise retests (supervisor) within the method version's maximum; needs a complete phase I.
    A retest is then entered at ``POST /lots/{lot_id}/results`` with ``retest_of``."""
    return write(
        request,
        lambda s: oos.to_dict(s, oos.authorise_retests(s, who.username, number, body.retests, body.reason)),
    )


@router.post("/oos/{number}/resamples")
def authorise_resamples(request: Request, number: str, body: AuthoriseResamples, who: User) -> dict[str, Any]:
    """Authorise resamples, new samples of the lot (supervisor), with the reason the original sample is not
    representative; retests and resamples together within the method version's maximum. A resample is then
    entered at ``POST /lots/{lot_id}/results`` with ``retest_of`` and ``resample=true``."""
    return write(
        request,
        lambda s: oos.to_dict(
            s, oos.authorise_resamples(s, who.username, number, body.resamples, body.reason)
        ),
    )


@router.post("/oos/{number}/phase2")
def phase_ii(request: Request, number: str, body: ReasonOnly, who: User) -> dict[str, Any]:
    """Escalate to the full-scale (phase II) investigation (QA)."""
    return write(request, lambda s: oos.to_dict(s, oos.start_phase_ii(s, who.username, number, body.reason)))


@router.post("/oos/{number}/phase2/findings")
def phase_ii_findings(request: Request, number: str, body: PhaseIIFindings, who: User) -> dict[str, Any]:
    """Record the phase II investigation's scope and findings (QA); a phase II case closes only after."""
    return write(
        request,
        lambda s: oos.to_dict(s, oos.record_phase_ii(s, who.username, number, body.scope, body.findings)),
    )


@router.post("/oos/{number}/close")
def close_investigation(request: Request, number: str, body: OosClose, who: User) -> dict[str, Any]:
    """Close with the supervisor's e-signature (password again): confirmed OOS, or invalidated with an
    assignable cause (the last valid retest, or the one named, becomes reportable)."""
    return write(
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
    return write(
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
