"""Log in and log out: a ``cookie`` session of the shared session store, in a Secure/HttpOnly/SameSite cookie.

The login form has no session yet, so its CSRF protection is a double-submit cookie: a random value in a
cookie and the same value in the form. Failed attempts, lockout and idle timeout are the store's
(:mod:`cgtqc.store.sessions`), the same as for API tokens.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from cgtqc.errors import CgtqcError
from cgtqc.store import sessions
from cgtqc.store.sessions import SESSION_COOKIE
from cgtqc.web.context import (
    LOGIN_CSRF_COOKIE,
    check_csrf,
    csrf_matches,
    current_user,
    render,
    see_other,
    sign_in_scope,
)

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a local path is a place to go back to (no open redirect to another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/lots"


def _cookie(response: Response, request: Request, key: str, value: str) -> None:
    response.set_cookie(
        key, value, httponly=True, secure=bool(request.app.state.secure_cookies), samesite="strict", path="/"
    )


def _login_form(
    request: Request, next_: str, status: int = 200, error: str = "", username: str = ""
) -> Response:
    token = secrets.token_urlsafe(24)
    messages = [{"kind": "error", "text": error}] if error else []
    response = render(
        request, "login.html.j2", status, login_csrf=token, next=next_, username=username, messages=messages
    )
    _cookie(response, request, LOGIN_CSRF_COOKIE, token)
    return response


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str = "/lots") -> Response:  # noqa: A002 - the query parameter's name
    if current_user(request) is not None:
        return see_other(_safe_next(next))
    return _login_form(request, _safe_next(next))


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form("/lots"),  # noqa: A002
) -> Response:
    target = _safe_next(next)
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        return _login_form(
            request, target, 403, "The login form expired or was not sent by this site; try again.", username
        )
    try:
        with sign_in_scope(request) as s:
            token, _who = sessions.login(s, username.strip(), password, "cookie")
    except CgtqcError as exc:
        return _login_form(request, target, 401, str(exc), username)
    response = see_other(target)
    _cookie(response, request, SESSION_COOKIE, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    who = await run_in_threadpool(current_user, request)
    if who is not None:
        await check_csrf(request, who)

        def close() -> None:
            with sign_in_scope(request) as s:
                sessions.logout(s, request.cookies.get(SESSION_COOKIE))

        await run_in_threadpool(close)
    response = see_other("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
