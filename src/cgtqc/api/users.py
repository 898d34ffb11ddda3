"""``/api/v1/users``: user administration (admin only): add, change role (a grant, audited), disable,
reset a password, unlock after a lockout; security events (logins, failures, lockouts)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cgtqc.api.deps import NotFound, allowed, read_scope, write_scope
from cgtqc.store import sessions, users
from cgtqc.store.models import ROLES, User
from cgtqc.store.sessions import Principal

router = APIRouter(prefix="/users", tags=["users"])
Admin = Annotated[Principal, Depends(allowed("manage_users"))]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    full_name: str = Field(min_length=1, max_length=200)
    role: Literal[ROLES]  # type: ignore[valid-type]
    password: str = Field(min_length=1, max_length=1000)


class UserChange(BaseModel):
    """A change to a user: new role, disabled, new password; the reason is always required."""

    model_config = ConfigDict(extra="ignore")
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S")
    role: Literal[ROLES] | None = None  # type: ignore[valid-type]
    active: Literal[False] | None = None
    password: str | None = Field(None, min_length=1, max_length=1000)


class Unlock(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S")


def _user(u: User, locked: Any = None) -> dict[str, Any]:
    return {
        "username": u.username,
        "full_name": u.full_name,
        "role": u.role,
        "active": u.active,
        "created_at": u.created_at.isoformat() + "Z",
        "locked_until": locked.isoformat() + "Z" if locked else None,
    }


def _find(s: Any, username: str) -> User:
    u = s.execute(select(User).where(User.username == username)).scalar()
    if u is None:
        raise NotFound(f"no user {username!r}")
    return u


@router.get("")
def list_users(request: Request, who: Admin) -> list[dict[str, Any]]:
    with read_scope(request) as s:
        return [
            _user(u, sessions.locked_until(s, u.username))
            for u in s.execute(select(User).order_by(User.id)).scalars()
        ]


@router.post("", status_code=201)
def add_user(request: Request, body: UserCreate, who: Admin) -> dict[str, Any]:
    """Add a user with a role (the grant is in the audit trail); the password is stored as argon2id."""
    with write_scope(request) as s:
        return _user(
            users.create_user(s, body.username, body.full_name, body.role, body.password, who.username)
        )


@router.patch("/{username}")
def change_user(request: Request, username: str, body: UserChange, who: Admin) -> dict[str, Any]:
    """Change a role, disable, or reset a password, with the reason; the user's open sessions are closed."""
    with write_scope(request) as s:
        _find(s, username)
        if body.role is not None:
            users.set_role(s, username, body.role, who.username, body.reason)
        if body.password is not None:
            users.set_password(s, username, body.password, who.username)
        if body.active is False:
            users.disable_user(s, username, who.username, body.reason)
        sessions.revoke_all(s, username)
        return _user(_find(s, username))


@router.post("/{username}/unlock")
def unlock(request: Request, username: str, body: Unlock, who: Admin) -> dict[str, Any]:
    """End a lockout before it expires (audited with the reason)."""
    with write_scope(request) as s:
        _find(s, username)
        sessions.unlock(s, username, who.username, body.reason)
        return _user(_find(s, username))


@router.get("/security-events", tags=["users"])
def security_events(
    request: Request,
    who: Admin,
    user: str | None = Query(None, max_length=64),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Logins, failed attempts, lockouts, unlocks and logouts, newest first."""
    with read_scope(request) as s:
        return [
            {
                "id": e.id,
                "at": e.at.isoformat() + "Z",
                "user": e.username,
                "event": e.event,
                "detail": e.detail,
            }
            for e in sessions.security_events(s, user, limit)
        ]
