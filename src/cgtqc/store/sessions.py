"""Authentication shared by the REST API and the pages: passwords, lockout, sessions, and who may do what.

- Passwords are checked by :func:`cgtqc.store.users.authenticate` (argon2id); every failed attempt, every
  lockout, login, logout and unlock is a :class:`SecurityEvent`, written through the audit trail.
- After :data:`MAX_FAILURES` consecutive failures the account is locked for :data:`LOCKOUT` (or until an
  administrator unlocks it); a locked account is refused without its password being looked at.
- A login opens a server-side session (:class:`AuthSession`): pages carry its id in a cookie, the API as a
  bearer token, both the same table. Only the token's SHA-256 is stored. A session idle for longer than
  the idle timeout is closed; a logout revokes it.
- :data:`AUTHORITY` is the role x action matrix both interfaces consult; the service functions check the
  same roles again, and the separation of duties (who entered a result may not review or approve it) is
  decided per lot by the lot services.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cgtqc.errors import InputError, PermissionDenied
from cgtqc.store import audit
from cgtqc.store.models import ROLES, AuthSession, SecurityEvent, User, utcnow
from cgtqc.store.users import authenticate, require_role

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
IDLE_TIMEOUT = timedelta(minutes=15)
TOUCH_EVERY = timedelta(seconds=30)  # last_seen_at is written at most this often (reads stay reads)
SESSION_COOKIE = "cgtqc_session"
KINDS = ("cookie", "bearer")

# action -> roles allowed; the service functions enforce the same roles (this matrix answers "may I?"
# before a form is shown or a route is run). Admin is not a wildcard.
AUTHORITY: dict[str, tuple[str, ...]] = {
    "read": ROLES,  # lots, results, specifications, audit trail, CoA
    "create_lot": ("analyst", "qa", "admin"),
    "amend_lot": ("analyst", "qa"),
    "enter_result": ("analyst", "reviewer", "qa"),
    "review": ("reviewer", "qa"),
    "sign_authored": ("analyst", "qa"),
    "sign_disposition": ("qa",),  # approved, released, rejected
    "register_specification": ("qa", "admin"),
    "manage_users": ("admin",),
}

_RESETS = ("login", "unlocked", "locked")  # events that end a run of failures


@dataclass(frozen=True)
class Principal:
    """The authenticated user of a request, and the session it came with."""

    username: str
    full_name: str
    role: str
    session_id: str
    kind: str
    csrf_token: str

    def can(self, action: str) -> bool:
        return can(self.role, action)


def can(role: str, action: str) -> bool:
    """True when ``role`` holds the authority for ``action`` (an unknown action is a programming error)."""
    return role in AUTHORITY[action]


def require(principal: Principal | User, action: str) -> None:
    """Refuse with :class:`PermissionDenied` unless the user's role holds ``action``."""
    if isinstance(principal, User):
        require_role(principal, *AUTHORITY[action])
    elif not can(principal.role, action):
        raise PermissionDenied(
            f"{principal.username} has role {principal.role!r}; this needs {' or '.join(AUTHORITY[action])}"
        )


def action_for_meaning(meaning: str) -> str:
    """The authority a signature meaning needs."""
    return {"authored": "sign_authored", "reviewed": "review"}.get(meaning, "sign_disposition")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _event(session: Session, username: str, event: str, detail: str = "") -> SecurityEvent:
    name = username[:64] or "?"
    ev = SecurityEvent(username=name, event=event, detail=detail[:400], at=utcnow())
    return audit.add(session, ev, name, reason=f"security: {event}")


def locked_until(session: Session, username: str, now: datetime | None = None) -> datetime | None:
    """When the account's lockout ends, or None when it is not locked."""
    now = now or utcnow()
    last = session.execute(
        select(SecurityEvent)
        .where(SecurityEvent.username == username, SecurityEvent.event.in_(_RESETS))
        .order_by(SecurityEvent.id.desc())
        .limit(1)
    ).scalar()
    if last is not None and last.event == "locked" and now < last.at + LOCKOUT:
        return last.at + LOCKOUT
    return None


def _failures_since_reset(session: Session, username: str) -> int:
    last_reset = (
        select(func.max(SecurityEvent.id))
        .where(SecurityEvent.username == username, SecurityEvent.event.in_(_RESETS))
        .scalar_subquery()
    )
    q = select(func.count()).where(
        SecurityEvent.username == username,
        SecurityEvent.event == "login_failed",
        SecurityEvent.id > func.coalesce(last_reset, 0),
    )
    return int(session.execute(q).scalar() or 0)


def check_password(session: Session, username: str, password: str, purpose: str = "login") -> User:
    """The user, when ``password`` is theirs and the account is active and not locked.

    A refusal is recorded (and the account locked after :data:`MAX_FAILURES` in a row) and *committed*
    before :class:`PermissionDenied` is raised, so the caller's rollback cannot erase it: call this first
    in a transaction."""
    until = locked_until(session, username)
    if until is not None:
        _event(session, username, "login_failed", f"{purpose}: account locked")
        session.commit()
        raise PermissionDenied(
            f"account {username!r} is locked after {MAX_FAILURES} failed attempts until "
            f"{until.isoformat(timespec='seconds')}Z (or until an administrator unlocks it)"
        )
    try:
        user = authenticate(session, username, password)
    except PermissionDenied:
        _event(session, username, "login_failed", f"{purpose}: wrong user name or password")
        if _failures_since_reset(session, username) >= MAX_FAILURES:
            _event(session, username, "locked", f"{MAX_FAILURES} failed attempts in a row")
        session.commit()
        raise PermissionDenied("wrong user name or password") from None
    return user


def _principal(row: AuthSession, user: User) -> Principal:
    return Principal(user.username, user.full_name, user.role, row.id, row.kind, row.csrf_token)


def login(session: Session, username: str, password: str, kind: str = "bearer") -> tuple[str, Principal]:
    """Check the password and open a session; returns the token (shown once, never stored) and who it is."""
    if kind not in KINDS:
        raise InputError(f"unknown session kind {kind!r} (one of {', '.join(KINDS)})")
    user = check_password(session, username, password)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = AuthSession(
        id=token_hash(token),
        username=user.username,
        kind=kind,
        csrf_token=secrets.token_urlsafe(24),
        created_at=now,
        last_seen_at=now,
        revoked=False,
    )
    session.add(row)
    _event(session, user.username, "login", kind)
    session.flush()
    return token, _principal(row, user)


def standing(
    revoked: bool,
    kind: str,
    last_seen_at: datetime,
    active: bool | None,
    wanted: str | None,
    idle_timeout: timedelta,
    now: datetime,
) -> str:
    """What a session is worth now: ``refused`` (revoked, of another kind, its user gone or disabled),
    ``expired`` (idle longer than ``idle_timeout``: close it), ``touch`` (valid, and its ``last_seen_at`` is
    older than :data:`TOUCH_EVERY`: write it) or ``fresh`` (valid as it stands, nothing to write)."""
    if revoked or (wanted is not None and kind != wanted):
        return "refused"
    if now - last_seen_at > idle_timeout:
        return "expired"
    if not active:  # None: the user row is gone
        return "refused"
    return "touch" if now - last_seen_at > TOUCH_EVERY else "fresh"


def resolve(
    session: Session,
    token: str | None,
    kind: str | None = None,
    idle_timeout: timedelta = IDLE_TIMEOUT,
    now: datetime | None = None,
) -> Principal | None:
    """Who holds ``token``: None when unknown, revoked, idle too long, of another kind, or the user disabled.

    Using a session keeps it alive (``last_seen_at``, written at most every :data:`TOUCH_EVERY`)."""
    if not token:
        return None
    now = now or utcnow()
    found = session.execute(  # the session and its user in one query (every API request asks)
        select(AuthSession, User)
        .outerjoin(User, User.username == AuthSession.username)
        .where(AuthSession.id == token_hash(token))
    ).first()
    if found is None:
        return None
    row, user = found
    state = standing(
        row.revoked, row.kind, row.last_seen_at, user.active if user else None, kind, idle_timeout, now
    )
    if state == "expired":
        row.revoked = True
    if state in ("refused", "expired"):
        return None
    if state == "touch":
        row.last_seen_at = now
    return _principal(row, user)


def logout(session: Session, token: str | None) -> bool:
    """Revoke the session of ``token``; False when there was none open."""
    row = session.get(AuthSession, token_hash(token)) if token else None
    if row is None or row.revoked:
        return False
    row.revoked = True
    _event(session, row.username, "logout", row.kind)
    return True


def revoke_all(session: Session, username: str) -> int:
    """Close every open session of a user (disabled account, role changed, password reset)."""
    rows = session.execute(
        select(AuthSession).where(AuthSession.username == username, AuthSession.revoked.is_(False))
    ).scalars()
    n = 0
    for row in rows:
        row.revoked = True
        n += 1
    return n


def unlock(session: Session, username: str, by: str, reason: str) -> SecurityEvent:
    """An administrator ends a lockout (audited with the reason)."""
    if not reason.strip():
        raise InputError("a reason is required to unlock an account", place="reason")
    if locked_until(session, username) is None:
        raise InputError(f"account {username!r} is not locked")
    return _event(session, username, "unlocked", f"by {by}: {reason}")


def security_events(session: Session, username: str | None = None, limit: int = 100) -> list[SecurityEvent]:
    """The newest security events, newest first (optionally of one user)."""
    q = select(SecurityEvent).order_by(SecurityEvent.id.desc()).limit(limit)
    if username:
        q = q.where(SecurityEvent.username == username)
    return list(session.execute(q).scalars())
