"""User administration (admin only): add users, change a role with its reason, disable, reset a password.

Each change goes through :mod:`cgtqc.store.users` (audited: who, when, old and new value, why) and closes the
user's open sessions when it changes what they may do.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select

from cgtqc.errors import CgtqcError, InputError
from cgtqc.store import sessions, users
from cgtqc.store.models import ROLES, User
from cgtqc.store.sessions import Principal
from cgtqc.web.context import check_csrf, error_page, page_user, read_scope, render, see_other, write_scope

router = APIRouter()

DONE = {
    "added": "User added.",
    "role": "Role changed.",
    "disabled": "User disabled.",
    "password": "Password reset.",
}


def _page(request: Request, who: Principal, status: int = 200, message: dict | None = None) -> Response:
    with read_scope(request) as s:
        rows = list(s.execute(select(User).order_by(User.id)).scalars())
    return render(
        request,
        "users.html.j2",
        status,
        user=who,
        section="users",
        users=rows,
        roles=ROLES,
        messages=[message] if message else [],
    )


def _admin(request: Request, who: Principal) -> None:
    sessions.require(who, "manage_users")


@router.get("/users", include_in_schema=False)
def user_list(request: Request, done: str = "", who: Principal = Depends(page_user)) -> Response:
    try:
        _admin(request, who)
    except CgtqcError as exc:
        return error_page(request, who, exc)
    return _page(request, who, message={"kind": "ok", "text": DONE[done]} if done in DONE else None)


async def _change(request: Request, who: Principal, done: str, change) -> Response:  # type: ignore[no-untyped-def]
    await check_csrf(request, who)
    form = await request.form()
    try:
        _admin(request, who)
        with write_scope(request) as s:
            change(s, {k: str(v) for k, v in form.items() if isinstance(v, str)})
    except CgtqcError as exc:
        from cgtqc.web.context import status_of

        return _page(request, who, status_of(exc), {"kind": "error", "text": str(exc)})
    return see_other(f"/users?done={done}")


@router.post("/users", include_in_schema=False)
async def add_user(request: Request, who: Principal = Depends(page_user)) -> Response:
    def change(s, f: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
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
async def change_role(request: Request, username: str, who: Principal = Depends(page_user)) -> Response:
    def change(s, f: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
        users.set_role(s, username, f.get("role", ""), who.username, f.get("reason", ""))
        sessions.revoke_all(s, username)

    return await _change(request, who, "role", change)


@router.post("/users/{username}/disable", include_in_schema=False)
async def disable(request: Request, username: str, who: Principal = Depends(page_user)) -> Response:
    def change(s, f: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
        if not f.get("reason", "").strip():
            raise InputError("a reason is required to disable a user", place="reason")
        users.disable_user(s, username, who.username, f["reason"].strip())
        sessions.revoke_all(s, username)

    return await _change(request, who, "disabled", change)


@router.post("/users/{username}/password", include_in_schema=False)
async def reset_password(request: Request, username: str, who: Principal = Depends(page_user)) -> Response:
    def change(s, f: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
        users.set_password(s, username, f.get("new_password", ""), who.username)
        sessions.revoke_all(s, username)

    return await _change(request, who, "password", change)
