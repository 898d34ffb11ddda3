"""What every route shares: the request's transaction, the bearer-token user, authority, error answers.

Errors the user caused answer with one line in ``detail``: bad input 422, not allowed 403, a lot that cannot
move to the asked state 409, unknown thing 404, no or expired token 401.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from cgtqc.errors import CgtqcError, DispositionError, InputError, PermissionDenied
from cgtqc.store import sessions
from cgtqc.store.sessions import Principal

PREFIX = "/api/v1"
oauth2 = OAuth2PasswordBearer(tokenUrl=f"{PREFIX}/auth/token", auto_error=False)


def read_scope(request: Request) -> AbstractContextManager[Session]:
    """One transaction for a route that reads."""
    return request.app.state.session_scope()


def write_scope(request: Request) -> AbstractContextManager[Session]:
    """One transaction for a route that writes (serialised on SQLite)."""
    return request.app.state.write_scope()


def sign_in_scope(request: Request) -> AbstractContextManager[Session]:
    """One transaction for logging in or out (the chain lock only at its audit entry)."""
    return request.app.state.sign_in_scope()


class NotFound(CgtqcError):
    """A lot, specification or user that does not exist (404)."""


def principal(request: Request, token: str | None = Depends(oauth2)) -> Principal:
    """The user of the bearer token; 401 when there is none, or it is revoked or idle too long."""
    if token:
        with read_scope(request) as s:
            who = sessions.resolve(s, token, "bearer", request.app.state.idle_timeout)
        if who is not None:
            return who
    raise HTTPException(
        401, "not authenticated: log in at POST /api/v1/auth/token", headers={"WWW-Authenticate": "Bearer"}
    )


def bearer_token(token: str | None = Depends(oauth2)) -> str | None:
    return token


def allowed(action: str) -> Callable[..., Principal]:
    """A dependency: the authenticated user, refused with 403 unless their role holds ``action``."""

    async def dependency(who: Principal = Depends(principal)) -> Principal:  # no I/O: no thread hop
        sessions.require(who, action)
        return who

    dependency.__name__ = f"allowed_{action}"
    return dependency


def _answer(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def validation_line(exc: RequestValidationError) -> str:
    """A request that does not fit the schema, as one line naming each field: ``reason: Field required``."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "request"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return " ".join("; ".join(parts).split())


def install_error_handlers(app: FastAPI) -> None:
    """cgtqc's own errors, and requests that do not fit the schema, as one-line JSON answers (API paths)."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if not request.url.path.startswith(PREFIX):
            return await request_validation_exception_handler(request, exc)
        return _answer(422, validation_line(exc))

    @app.exception_handler(NotFound)
    def _not_found(_r: Request, exc: NotFound) -> JSONResponse:
        return _answer(404, str(exc))

    @app.exception_handler(InputError)
    def _input(_r: Request, exc: InputError) -> JSONResponse:
        return _answer(422, str(exc))

    @app.exception_handler(PermissionDenied)
    def _denied(_r: Request, exc: PermissionDenied) -> JSONResponse:
        return _answer(403, str(exc))

    @app.exception_handler(DispositionError)
    def _disposition(_r: Request, exc: DispositionError) -> JSONResponse:
        return _answer(409, str(exc))

    @app.exception_handler(CgtqcError)
    def _other(_r: Request, exc: CgtqcError) -> JSONResponse:
        return _answer(422, str(exc))
