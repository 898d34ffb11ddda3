"""Small helpers the lab modules share: finding a record by its code, and the acting user's authority."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from cgtqc.errors import InputError
from cgtqc.store.models import Base, User
from cgtqc.store.users import get_user, require_role

T = TypeVar("T", bound=Base)


def find(session: Session, model: type[T], column: Any, value: str, what: str) -> T:
    """The one record whose ``column`` is ``value``, or an error naming what was looked for."""
    obj = session.execute(select(model).where(column == value)).scalar()
    if obj is None:
        raise InputError(f"no {what} {value!r}")
    return obj


def acting(session: Session, username: str, *roles: str) -> User:
    """The active user ``username``, refused unless they hold one of ``roles``."""
    user = get_user(session, username)
    require_role(user, *roles)
    return user


def choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    """``value`` if it is one of ``allowed``, else an error naming the field and the choices."""
    if value not in allowed:
        raise InputError(f"{field} {value!r} is not one of: {', '.join(allowed)}", place=field)
    return value
