"""User administration (admin only): add users, change a role with its reason, disable, reset a password,
unlock an account locked after failed logins.

Each change goes through :mod:`cgtqc.store.users` or :mod:`cgtqc.store.sessions` (audited: who, when, old
and new value, why) and closes the user's open sessions when it changes what they may do.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cgtqc.errors import CgtqcError, InputError
from cgtqc.store import sessions, users
from cgtqc.store.models import ROLES, User
from cgtqc.store.sessions import Principal
from cgtqc.web.context import (
    PageUser,
    check_csrf,
    error_page,
    read_scope,
    render,
    see_other,
    status_of,
    write_scope,
)

router = APIRouter()

DONE = {
    "added": "User added.",
    "role": "Role changed.",
    "disabled": "User disabled.",
    "password": "Password reset.",
    "unlocked": "Account unlocked.",
}


def _page(request: Request, who: Principal, status: int = 200, message: dict | None = None) -> Response:
    with read_scope(request) as s:
        rows = [
            {"user": u, "locked_until": sessions.locked_until(s, u.username)}
            for u in s.execute(select(User).order_by(User.id)).scalars()
        ]
    messages = [message] if message else []
    return render(
        request, "users.html.j2", status, user=who, section="users", rows=rows, roles=ROLES, messages=messages
    )


@router.get("/users", include_in_schema=False)
def user_list(request: Request, who: PageUser, done: str = "") -> Response:
    try:
        sessions.require(who, "manage_users")
    except CgtqcError as exc:
        return error_page(request, who, exc)
    return _page(request, who, message={"kind": "ok", "text": DONE[done]} if done in DONE else None)


async def _change(
    request: Request, who: Principal, done: str, change: Callable[[Session, dict[str, str]], object]
) -> Response:
    """Check the CSRF token and the authority, apply ``change`` in one transaction, show the list again."""
    await check_csrf(request, who)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}

    def work() -> Response:
        try:
            sessions.require(who, "manage_users")
            with write_scope(request) as s:
                change(s, form)
        except CgtqcError as exc:
            return _page(request, who, status_of(exc), {"kind": "error", "text": str(exc)})
        return see_other(f"/users?done={done}")

    return await run_in_threadpool(work)  # argon2 and the database, off the event loop


def _reason(form: dict[str, str], what: str) -> str:
    reason = form.get("reason", "").strip()
    if not reason:
        raise InputError(f"a reason is required to {what}", place="reason")
    return reason


@router.post("/users", include_in_schema=False)
async def add_user(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        users.create_user(
            s,
            f.get("username", "").strip(),
            f.get("full_name", "").strip(),
            f.get("role", ""),
            f.get("password", ""),
            who.username,
        )

    return await _change(request, who, "added", change)


@router.post("/users/{username}/role", include_in_schema=False)
async def change_role(request: Request, username: str, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        users.set_role(s, username, f.get("role", ""), who.username, _reason(f, "change a role"))
        sessions.revoke_all(s, username)

    return await _change(request, who, "role", change)


@router.post("/users/{username}/disable", include_in_schema=False)
async def disable(request: Request, username: str, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        users.disable_user(s, username, who.username, _reason(f, "disable a user"))
        sessions.revoke_all(s, username)

    return await _change(request, who, "disabled", change)


@router.post("/users/{username}/password", include_in_schema=False)
async def reset_password(request: Request, username: str, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        users.set_password(s, username, f.get("new_password", ""), who.username)
        sessions.revoke_all(s, username)

    return await _change(request, who, "password", change)


@router.post("/users/{username}/unlock", include_in_schema=False)
async def unlock(request: Request, username: str, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        sessions.unlock(s, username, who.username, _reason(f, "unlock an account"))

    return await _change(request, who, "unlocked", change)
