"""Small helpers the lab modules share: finding a record by its code, the acting user's authority (one
role x action table, :data:`LAB_AUTHORITY`, that the service functions enforce and the pages consult before
showing a form), and dates as people type them."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from cgtqc.errors import InputError
from cgtqc.store.models import Base, User
from cgtqc.store.users import get_user, require_role

T = TypeVar("T", bound=Base)

_ANY_ROLE = ("analyst", "reviewer", "qa", "admin")
# lab action -> roles allowed (admin is not a wildcard); the service functions below check exactly these
LAB_AUTHORITY: dict[str, tuple[str, ...]] = {
    "register_instrument": _ANY_ROLE,
    "calibrate_instrument": _ANY_ROLE,  # calibration and maintenance
    "qualify_instrument": ("reviewer", "qa"),  # IQ, OQ, PQ
    "instrument_status": ("reviewer", "qa", "admin"),  # out of service, back in, retired
    "receive_reagent": _ANY_ROLE,
    "accept_reagent": ("reviewer", "qa"),  # accept or reject after the incoming check
    "recall_reagent": ("qa",),
    "add_method_version": ("qa",),
    "qualify_analyst": ("reviewer", "qa"),  # qualify and revoke
    "open_deviation": _ANY_ROLE,
    "move_deviation": _ANY_ROLE,  # closing is QA's, a rule of the record
    "add_capa": ("reviewer", "qa"),
    "capa_status": _ANY_ROLE,  # done: its owner or QA; verified: QA (rules of the record)
    "oos_phase_i": ("analyst", "reviewer", "qa"),
    "oos_authorise": ("reviewer", "qa"),  # retests and resamples
    "oos_phase_ii": ("qa",),  # escalation and its scope and findings
    "oos_close": ("reviewer", "qa"),  # the supervisor's signature
}


def may(role: str, action: str) -> bool:
    """True when ``role`` holds the lab ``action`` (an unknown action is a programming error)."""
    return role in LAB_AUTHORITY[action]


def refusal(username: str, role: str, action: str) -> str | None:
    """Why ``role`` may not do ``action`` (the line the service's refusal gives), or None."""
    if may(role, action):
        return None
    return f"{username} has role {role!r}; this needs {' or '.join(LAB_AUTHORITY[action])}"


def find(session: Session, model: type[T], column: Any, value: str, what: str) -> T:
    """The one record whose ``column`` is ``value``, or an error naming what was looked for."""
    obj = session.execute(select(model).where(column == value)).scalar()
    if obj is None:
        raise InputError(f"no {what} {value!r}")
    return obj


def acting_for(session: Session, username: str, action: str) -> User:
    """The active user ``username``, refused unless their role holds the lab ``action``."""
    return acting(session, username, *LAB_AUTHORITY[action])


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


def parse_date(text: str | None, field: str, required: bool = True) -> date | None:
    """A YYYY-MM-DD date typed by a person; an error names the field (a CLI option or a form field)."""
    if text is None or not text.strip():
        if required:
            raise InputError("a date is required (YYYY-MM-DD)", place=field)
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{text!r} is not a date (write YYYY-MM-DD)", place=field) from None
