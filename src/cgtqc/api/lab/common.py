"""What the lab routes share: the caller (every signed-in user reaches a lab route; the lab service
functions hold the authority, as in the CLI), field limits, common bodies, and one read or write per route."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from cgtqc.api.deps import NotFound, allowed, read_scope, write_scope
from cgtqc.errors import InputError
from cgtqc.store.sessions import Principal

# Everyone signed in reaches a lab route; the lab service functions hold the authority (as in the CLI).
User = Annotated[Principal, Depends(allowed("read"))]
T = TypeVar("T")
Code = Field(min_length=1, max_length=64)
Text = Field("", max_length=4000)
Reason = Field(min_length=1, max_length=2000, pattern=r"\S")


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StatusChange(Body):
    status: str = Field(min_length=1, max_length=32)
    reason: str = Reason


class ReasonOnly(Body):
    reason: str = Reason


class Dated(Body):
    """A calibration or maintenance: done ``on``, next ``due``."""

    on: date
    due: date


def found(get: Callable[[Session, str], T], s: Session, key: str) -> T:
    """The record ``get`` finds, or 404 with the service's own line."""
    try:
        return get(s, key)
    except InputError as exc:
        raise NotFound(str(exc)) from None


def read(request: Request, fn: Callable[[Session], Any]) -> Any:
    with read_scope(request) as s:
        return fn(s)


def write(request: Request, fn: Callable[[Session], Any]) -> Any:
    with write_scope(request) as s:
        return fn(s)
