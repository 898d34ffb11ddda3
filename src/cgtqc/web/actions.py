"""The lot page's writes: a result (raw files through the engine, or a manual value with its reason), the
second-person review, and the QA signature. Each checks the CSRF token, re-asks the password where a
signature is made, and calls the same service functions as the API and the CLI. The work (argon2, the
database, an engine) runs in a worker thread, off the event loop."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from cgtqc.errors import CgtqcError, InputError
from cgtqc.lots import disposition
from cgtqc.store import sessions
from cgtqc.store.sessions import Principal
from cgtqc.web.context import PageUser, check_csrf, lot_url, see_other, status_of, write_scope
from cgtqc.web.lot_page import DISPOSITION_MEANINGS, show_lot
from cgtqc.web.uploads import record

router = APIRouter()


def _attempt(request: Request, who: Principal, lot_number: str, work: Callable[[], str]) -> Response:
    """Run ``work`` (it returns the lot page's ``done`` code); on refusal show the lot page again with the
    one-line reason, under the status the API would answer (403, 409, 422, 404)."""
    try:
        done = work()
    except CgtqcError as exc:
        return show_lot(request, who, lot_number, status_of(exc), [{"kind": "error", "text": str(exc)}])
    return see_other(lot_url(lot_number, f"?done={done}"))


@router.post("/lots/{lot_number}/results", include_in_schema=False)
async def add_result(request: Request, lot_number: str, who: PageUser) -> Response:
    await check_csrf(request, who)
    form = await request.form()

    def work() -> str:
        sessions.require(who, "enter_result")
        return "replaced" if record(request, who, lot_number, form) else "result"

    return await run_in_threadpool(_attempt, request, who, lot_number, work)


@router.post("/lots/{lot_number}/review", include_in_schema=False)
async def review(request: Request, lot_number: str, who: PageUser) -> Response:
    await check_csrf(request, who)
    password = str((await request.form()).get("password") or "")

    def work() -> str:
        sessions.require(who, "review")
        with write_scope(request) as s:
            sessions.check_password(s, who.username, password, purpose="signature reviewed")
            disposition.review(s, who.username, password, lot_number)
        return "reviewed"

    return await run_in_threadpool(_attempt, request, who, lot_number, work)


@router.post("/lots/{lot_number}/sign", include_in_schema=False)
async def sign(request: Request, lot_number: str, who: PageUser) -> Response:
    await check_csrf(request, who)
    form = await request.form()
    meaning, password = str(form.get("meaning") or ""), str(form.get("password") or "")

    def work() -> str:
        if meaning not in DISPOSITION_MEANINGS:
            raise InputError(f"the pages sign only {', '.join(DISPOSITION_MEANINGS)}", place="meaning")
        sessions.require(who, sessions.action_for_meaning(meaning))
        with write_scope(request) as s:
            sessions.check_password(s, who.username, password, purpose=f"signature {meaning}")
            disposition.sign(s, who.username, password, lot_number, meaning)
        return "signed"

    return await run_in_threadpool(_attempt, request, who, lot_number, work)
