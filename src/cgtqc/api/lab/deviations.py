"""``/api/v1`` lab routes for deviations and their CAPA actions, and the overdue list."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as FPath
from pydantic import Field
from sqlalchemy.orm import Session

from cgtqc.api.lab.common import (
    Body,
    Code,
    StatusChange,
    Text,
    User,
    found,
    read,
    write,
)
from cgtqc.errors import InputError
from cgtqc.lab import deviations, oos
from cgtqc.lots import service
from cgtqc.store.models import Result

router = APIRouter()


class DeviationCreate(Body):
    title: str = Field(min_length=1, max_length=200)
    owner: str = Code
    due_on: date
    description: str = Text
    lot: str | None = Field(None, max_length=64)
    result_id: int | None = Field(None, ge=1, le=2**31 - 1)
    investigation: str | None = Field(None, max_length=64)


class CapaCreate(Body):
    kind: Literal["corrective", "preventive"]
    description: str = Field(min_length=1, max_length=4000)
    owner: str = Code
    due_on: date


class CapaStatus(Body):
    status: Literal["done", "verified"]
    reason: str = Field("", max_length=2000)



@router.get("/deviations")
def list_deviations(
    request: Request, who: User, lot: str | None = Query(None, max_length=64)
) -> list[dict[str, Any]]:
    """Deviations (of one lot, or all)."""
    return read(
        request,
        lambda s: [
            deviations.to_dict(s, d)
            for d in deviations.list_deviations(s, found(service.get_lot, s, lot) if lot else None)
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

    return write(request, open_)


@router.get("/deviations/overdue")
def overdue(request: Request, who: User, on: date | None = None) -> list[dict[str, Any]]:
    """Deviations not closed and open CAPA actions past their due date on ``on`` (default today)."""
    return read(request, lambda s: deviations.overdue_items(s, on))


@router.get("/deviations/{number}")
def get_deviation(request: Request, number: str, who: User) -> dict[str, Any]:
    """One deviation with its CAPA actions."""
    return read(request, lambda s: deviations.to_dict(s, found(deviations.get_deviation, s, number)))


@router.post("/deviations/{number}/status")
def deviation_status(request: Request, number: str, body: StatusChange, who: User) -> dict[str, Any]:
    """Move a deviation on: investigation, capa, or closed (QA, every CAPA action done)."""
    return write(
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

    return write(request, add)


@router.post("/capa-actions/{action_id}/status")
def capa_status(
    request: Request, action_id: Annotated[int, FPath(ge=1, le=2**31 - 1)], body: CapaStatus, who: User
) -> dict[str, Any]:
    """Mark a CAPA action done (its owner or QA) or verified (QA); answers its deviation."""

    def change(s: Session) -> dict[str, Any]:
        a = deviations.set_capa_status(s, who.username, action_id, body.status, body.reason)
        return deviations.to_dict(s, deviations.deviation_of(s, a))

    return write(request, change)
