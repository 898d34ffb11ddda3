"""``/api/v1`` lab routes for equipment and materials: instruments (qualification, calibration,
maintenance, status) and reagent lots (acceptance, recall with every affected result and lot)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import Field
from sqlalchemy.orm import Session

from cgtqc.api.lab.common import (
    Body,
    Code,
    Dated,
    ReasonOnly,
    StatusChange,
    User,
    found,
    read,
    write,
)
from cgtqc.lab import instruments, reagents

router = APIRouter()


class InstrumentCreate(Body):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=64)
    location: str = Field("", max_length=200)


class Qualification(Body):
    stage: Literal["iq", "oq", "pq"]
    on: date


class ReagentLotCreate(Body):
    lot_number: str = Code
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field("reagent", max_length=64)
    expires_on: date
    storage: str = Field("", max_length=200)
    supplier: str = Field("", max_length=200)


class ReagentStatus(Body):
    status: Literal["accepted", "rejected"]
    reason: str = Field("incoming check passed", min_length=1, max_length=2000, pattern=r"\S")



@router.get("/instruments")
def list_instruments(request: Request, who: User) -> list[dict[str, Any]]:
    """Every instrument: qualification, calibration and maintenance dates, and whether it may serve today."""
    return read(request, lambda s: [instruments.to_dict(i) for i in instruments.list_instruments(s)])


@router.post("/instruments", status_code=201)
def add_instrument(request: Request, body: InstrumentCreate, who: User) -> dict[str, Any]:
    """Register an instrument (unqualified until IQ, OQ and PQ are recorded)."""
    return write(
        request,
        lambda s: instruments.to_dict(
            instruments.add_instrument(s, who.username, body.code, body.name, body.kind, body.location)
        ),
    )


@router.get("/instruments/{code}")
def get_instrument(request: Request, code: str, who: User) -> dict[str, Any]:
    """One instrument's record."""
    return read(request, lambda s: instruments.to_dict(found(instruments.get_instrument, s, code)))


@router.post("/instruments/{code}/qualifications", status_code=201)
def qualify_instrument(request: Request, code: str, body: Qualification, who: User) -> dict[str, Any]:
    """Record the completion of IQ, OQ or PQ (reviewer or QA)."""
    return write(
        request,
        lambda s: instruments.to_dict(
            instruments.record_qualification(s, who.username, code, body.stage, body.on)
        ),
    )


@router.post("/instruments/{code}/calibrations", status_code=201)
def calibrate_instrument(request: Request, code: str, body: Dated, who: User) -> dict[str, Any]:
    """Record a calibration and the next due date."""
    return write(
        request,
        lambda s: instruments.to_dict(
            instruments.record_calibration(s, who.username, code, body.on, body.due)
        ),
    )


@router.post("/instruments/{code}/maintenance", status_code=201)
def maintain_instrument(request: Request, code: str, body: Dated, who: User) -> dict[str, Any]:
    """Record preventive maintenance and the next due date."""
    return write(
        request,
        lambda s: instruments.to_dict(
            instruments.record_maintenance(s, who.username, code, body.on, body.due)
        ),
    )


@router.post("/instruments/{code}/status")
def instrument_status(request: Request, code: str, body: StatusChange, who: User) -> dict[str, Any]:
    """'in service', 'out of service' or 'retired', with the reason (reviewer, QA or admin)."""
    return write(
        request,
        lambda s: instruments.to_dict(
            instruments.set_status(s, who.username, code, body.status, body.reason)
        ),
    )


# Reagent lots


@router.get("/reagent-lots")
def list_reagent_lots(request: Request, who: User) -> list[dict[str, Any]]:
    """Every reagent, kit, reference standard and control lot: expiry, status, whether it may serve today."""
    return read(request, lambda s: [reagents.to_dict(r) for r in reagents.list_reagent_lots(s)])


@router.post("/reagent-lots", status_code=201)
def add_reagent_lot(request: Request, body: ReagentLotCreate, who: User) -> dict[str, Any]:
    """Receive a lot (in quarantine until accepted)."""
    return write(
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
        rl = found(reagents.get_reagent_lot, s, lot_number)
        return {**reagents.to_dict(rl), "used_by": reagents.affected_to_dict(*reagents.affected(s, rl))}

    return read(request, show)


@router.post("/reagent-lots/{lot_number}/status")
def reagent_status(request: Request, lot_number: str, body: ReagentStatus, who: User) -> dict[str, Any]:
    """Accept or reject a lot after its incoming check (reviewer or QA)."""
    return write(
        request,
        lambda s: reagents.to_dict(
            reagents.set_status(s, who.username, lot_number, body.status, body.reason)
        ),
    )


@router.post("/reagent-lots/{lot_number}/recall")
def recall_reagent_lot(request: Request, lot_number: str, body: ReasonOnly, who: User) -> dict[str, Any]:
    """Recall a lot (QA): it serves no further result; answers every result and product lot it affects."""
    return write(
        request,
        lambda s: {
            "lot_number": lot_number,
            **reagents.affected_to_dict(*reagents.recall(s, who.username, lot_number, body.reason)),
        },
    )
