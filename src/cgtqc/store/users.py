"""Users, roles and passwords (argon2id). Authority is checked per action by ``require_role``."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cgtqc.errors import InputError, PermissionDenied
from cgtqc.store import audit
from cgtqc.store.models import ROLES, User

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 8


def create_user(session: Session, username: str, full_name: str, role: str, password: str, by: str) -> User:
    """Add a user; the password is stored only as an argon2id hash."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r} (roles: {', '.join(ROLES)})", place=f"user {username}")
    _check_password(username, password)
    if session.execute(select(User).where(User.username == username)).scalar():
        raise InputError(f"user {username!r} exists already")
    user = User(username=username, full_name=full_name, role=role, password_hash=_hasher.hash(password))
    audit.add(session, user, by, reason="user created")
    return user


def _check_password(username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"password shorter than {MIN_PASSWORD_LENGTH} characters", place=f"user {username}")


def _find(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar()
    if user is None:
        raise InputError(f"no user {username!r}")
    return user


def set_password(session: Session, username: str, password: str, by: str) -> User:
    """Replace a user's password hash (audited; the hash, never the password, is in the trail)."""
    user = _find(session, username)
    _check_password(username, password)
    audit.update(session, user, {"password_hash": _hasher.hash(password)}, by, "password reset")
    return user


def disable_user(session: Session, username: str, by: str, reason: str) -> User:
    """Deactivate a user (kept for the records they signed); the last active admin cannot be disabled."""
    user = _find(session, username)
    if not user.active:
        raise InputError(f"user {username!r} is already disabled")
    if user.role == "admin":
        admins = session.execute(select(User).where(User.role == "admin", User.active.is_(True))).scalars()
        if len(list(admins)) <= 1:
            raise PermissionDenied(f"{username} is the last active administrator")
    audit.update(session, user, {"active": False}, by, reason or "user disabled")
    return user


def set_role(session: Session, username: str, role: str, by: str, reason: str) -> User:
    """Grant a user another role (audited: old role, new role, who and why); the last admin keeps theirs."""
    user = _find(session, username)
    if role not in ROLES:
        raise InputError(f"unknown role {role!r} (roles: {', '.join(ROLES)})", place=f"user {username}")
    if not reason.strip():
        raise InputError("a reason is required to change a role", place="reason")
    if user.role == "admin" and role != "admin":
        admins = session.execute(select(User).where(User.role == "admin", User.active.is_(True))).scalars()
        if len(list(admins)) <= 1:
            raise PermissionDenied(f"{username} is the last active administrator")
    audit.update(session, user, {"role": role}, by, reason)
    return user


def get_user(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar()
    if user is None or not user.active:
        raise PermissionDenied(f"no active user {username!r}")
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    """Both signature components: the user id and the password, checked against the stored hash."""
    user = get_user(session, username)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError):
        raise PermissionDenied(f"wrong password for {username!r}") from None
    return user


def require_role(user: User, *roles: str) -> None:
    """Refuse the action unless the user holds one of ``roles`` (admin is not a wildcard)."""
    if user.role not in roles:
        raise PermissionDenied(f"{user.username} has role {user.role!r}; this needs {' or '.join(roles)}")
