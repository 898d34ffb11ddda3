"""What every page shares: the templates, the logged-in user from the session cookie, CSRF, error pages.

A page session is a ``cookie`` session of :mod:`cgtqc.store.sessions` (the same table as the API's bearer
tokens, idle timeout and lockout included). Its CSRF token is the session's own random ``csrf_token``: every
form carries it in ``csrf_token`` and every HTMX request in the ``X-CSRF-Token`` header, and a write is
refused (403) unless it matches. The login form, which has no session yet, uses a double-submit cookie.
"""

from __future__ import annotations

import hmac
import json
import os
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from cgtqc.errors import CgtqcError, DispositionError, InputError, PermissionDenied
from cgtqc.store import sessions
from cgtqc.store.sessions import SESSION_COOKIE, Principal

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOGIN_CSRF_COOKIE = "cgtqc_login_csrf"


def _shorten(value: str | None, width: int = 160) -> str:
    """An audit value for a table cell: JSON strings unquoted, long values cut with an ellipsis."""
    if value is None:
        return ""
    try:
        decoded = json.loads(value)
        text = decoded if isinstance(decoded, str) else value
    except ValueError:
        text = value
    return text if len(text) <= width else text[: width - 1] + "…"


env = Environment(
    loader=PackageLoader("cgtqc.web", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["shorten"] = _shorten
env.filters["q"] = lambda v: quote(str(v), safe="")
env.filters["basename"] = lambda p: Path(str(p)).name
env.filters["json"] = lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True)  # autoescaped as text


def htmx_path() -> Path:
    """Where the install step put HTMX (``$CGTQC_HTMX``, else ``<venv>/share/cgtqc/htmx.min.js``)."""
    return Path(os.environ.get("CGTQC_HTMX") or Path(sys.prefix) / "share" / "cgtqc" / "htmx.min.js")


def read_scope(request: Request) -> AbstractContextManager[Session]:
    return request.app.state.session_scope()


def write_scope(request: Request) -> AbstractContextManager[Session]:
    return request.app.state.write_scope()


def sign_in_scope(request: Request) -> AbstractContextManager[Session]:
    return request.app.state.sign_in_scope()


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


class CsrfRejected(Exception):
    """A write without the session's CSRF token (answered 403 by the handler ``install`` adds)."""


class LoginRequired(Exception):
    """No valid page session: a page redirects to the login form, an HTMX fragment answers 401."""


def current_user(request: Request) -> Principal | None:
    """The user of the session cookie, or None (no cookie, revoked, idle too long, user disabled)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with request.app.state.session_scope() as s:
        return sessions.resolve(s, token, "cookie", request.app.state.idle_timeout)


def page_user(request: Request) -> Principal:
    """Dependency of every page: the logged-in user, else :class:`LoginRequired`."""
    who = current_user(request)
    if who is None:
        raise LoginRequired()
    return who


PageUser = Annotated[Principal, Depends(page_user)]
"""A route parameter: the logged-in user of the page (redirected to the login form when there is none)."""


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


async def check_csrf(request: Request, who: Principal) -> None:
    """Refuse a write whose form field or X-CSRF-Token header does not carry the session's token."""
    given = request.headers.get(CSRF_HEADER)
    if not given:
        form = await request.form()
        given = form.get(CSRF_FIELD)  # type: ignore[assignment]
    if not csrf_matches(who.csrf_token, given if isinstance(given, str) else None):
        raise CsrfRejected("the form's CSRF token is missing or does not match your session; reload the page")


def render(request: Request, template: str, status_code: int = 200, /, **ctx: Any) -> HTMLResponse:
    """A template with what every page needs (user, CSRF token, whether HTMX is installed, messages)."""
    who: Principal | None = ctx.pop("user", None)
    base = {
        "user": who,
        "csrf": who.csrf_token if who else "",
        "htmx": htmx_path().is_file(),
        "messages": ctx.pop("messages", []),
    }
    html = env.get_template(template).render(**base, **ctx)
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def status_of(exc: CgtqcError) -> int:
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, DispositionError):
        return 409
    if isinstance(exc, InputError) and exc.message.startswith(("no lot ", "no specification ")):
        return 404
    return 422


def error_page(request: Request, who: Principal | None, exc: CgtqcError, back: str = "/lots") -> Response:
    """One clear line, as an HTML page (or a fragment for HTMX), with the status the API would give."""
    status = status_of(exc)
    headings = {403: "Not allowed", 404: "Not found", 409: "Not possible in this state", 422: "Not accepted"}
    if is_htmx(request):
        html = f'<p class="flash error" role="alert">{env.filters["e"](str(exc))}</p>'
        return HTMLResponse(html, status_code=status)
    return render(
        request,
        "error.html.j2",
        status,
        user=who,
        heading=headings.get(status, "Error"),
        detail=str(exc),
        back=back,
        code=status,
    )


def login_redirect(request: Request) -> Response:
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def lot_url(lot_number: str, suffix: str = "") -> str:
    return f"/lots/{quote(lot_number, safe='')}{suffix}"
