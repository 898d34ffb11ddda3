"""``/api/v1/auth``: log in with the OAuth2 password form for a bearer token, who am I, log out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from pydantic import BaseModel

from cgtqc.api.deps import bearer_token, principal, sign_in_scope
from cgtqc.errors import PermissionDenied
from cgtqc.store import sessions
from cgtqc.store.sessions import AUTHORITY, Principal

router = APIRouter(prefix="/auth", tags=["authentication"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class Me(BaseModel):
    username: str
    full_name: str
    role: str
    may: list[str]


@router.post("/token", response_model=Token)
def token(request: Request, username: str = Form(...), password: str = Form(...)) -> Token:
    """OAuth2 password flow: a bearer token for the API (idle timeout applies); failures count to lockout."""
    try:
        with sign_in_scope(request) as s:
            tok, _who = sessions.login(s, username, password, "bearer")
    except PermissionDenied as exc:  # wrong password, unknown or disabled user, locked account
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
    return Token(access_token=tok)


@router.get("/me", response_model=Me)
def me(who: Principal = Depends(principal)) -> Me:
    """The token's user, role and the actions that role may take."""
    return Me(
        username=who.username,
        full_name=who.full_name,
        role=who.role,
        may=[a for a in AUTHORITY if who.can(a)],
    )


@router.post("/logout", status_code=204)
def logout(
    request: Request, who: Principal = Depends(principal), tok: str | None = Depends(bearer_token)
) -> None:
    """Revoke this token."""
    with sign_in_scope(request) as s:
        sessions.logout(s, tok)
