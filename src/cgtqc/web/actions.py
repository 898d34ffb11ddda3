"""The lot page's writes: a result (raw files through the engine, or a manual value with its reason), the
second-person review, and the QA signature. Each checks the CSRF token, re-asks the password where a
signature is made, and calls the same service functions as the API and the CLI."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cgtqc.errors import CgtqcError, InputError
from cgtqc.lots import disposition
from cgtqc.store import sessions
from cgtqc.store.sessions import Principal
from cgtqc.web.context import check_csrf, lot_url, page_user, see_other, write_scope
from cgtqc.web.lot_page import DISPOSITION_MEANINGS, show_lot
from cgtqc.web.uploads import record_from_form

router = APIRouter()


@router.post("/lots/{lot_number}/results", include_in_schema=False)
async def add_result(request: Request, lot_number: str, who: Principal = Depends(page_user)) -> Response:
    await check_csrf(request, who)
    form = await request.form()
    try:
        sessions.require(who, "enter_result")
        replaced = await record_from_form(request, who, lot_number, form)
    except CgtqcError as exc:
        return _refused(request, who, lot_number, exc)
    return see_other(lot_url(lot_number, "?done=" + ("replaced" if replaced else "result")))


@router.post("/lots/{lot_number}/review", include_in_schema=False)
async def review(request: Request, lot_number: str, who: Principal = Depends(page_user)) -> Response:
    await check_csrf(request, who)
    form = await request.form()
    password = str(form.get("password") or "")
    try:
        sessions.require(who, "review")
        with write_scope(request) as s:
            sessions.check_password(s, who.username, password, purpose="signature")
            disposition.review(s, who.username, password, lot_number)
    except CgtqcError as exc:
        return _refused(request, who, lot_number, exc)
    return see_other(lot_url(lot_number, "?done=reviewed"))


@router.post("/lots/{lot_number}/sign", include_in_schema=False)
async def sign(request: Request, lot_number: str, who: Principal = Depends(page_user)) -> Response:
    await check_csrf(request, who)
    form = await request.form()
    meaning = str(form.get("meaning") or "")
    password = str(form.get("password") or "")
    try:
        if meaning not in DISPOSITION_MEANINGS:
            raise InputError(f"the pages sign only {', '.join(DISPOSITION_MEANINGS)}")
        sessions.require(who, sessions.action_for_meaning(meaning))
        with write_scope(request) as s:
            sessions.check_password(s, who.username, password, purpose="signature")
            disposition.sign(s, who.username, password, lot_number, meaning)
    except CgtqcError as exc:
        return _refused(request, who, lot_number, exc)
    return see_other(lot_url(lot_number, "?done=signed"))


def _refused(request: Request, who: Principal, lot_number: str, exc: CgtqcError) -> Response:
    """The lot page again with the one-line reason, under the status the API would answer."""
    from cgtqc.web.context import status_of

    return show_lot(request, who, lot_number, status_of(exc), [{"kind": "error", "text": str(exc)}])
