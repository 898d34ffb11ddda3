"""Authentication primitives, the append-only audit table on PostgreSQL, and backup/restore of the store."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError

from cgtqc.errors import InputError, PermissionDenied
from cgtqc.lots import service
from cgtqc.store import audit, backup, sessions
from cgtqc.store.db import migrate, session_scope
from cgtqc.store.models import AuditEntry, SecurityEvent, utcnow
from cgtqc.store.users import create_user, disable_user, set_role

PW = "password-123"


def _pg(base_url: str) -> str:
    name = f"s_{uuid.uuid4().hex[:12]}"
    eng = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    eng.dispose()
    return base_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    u = (
        f"sqlite:///{tmp_path / 's.db'}"
        if request.param == "sqlite"
        else _pg(request.getfixturevalue("postgres_url"))
    )
    migrate(u)
    with session_scope(u) as s:
        create_user(s, "admin", "Ada Admin", "admin", PW, by="admin")
        create_user(s, "alice", "Alice Analyst", "analyst", PW, by="admin")
    return u


def _events(url: str, username: str) -> list[str]:
    with session_scope(url) as s:
        q = select(SecurityEvent.event).where(SecurityEvent.username == username).order_by(SecurityEvent.id)
        return list(s.execute(q).scalars())


def test_lockout_after_failures_is_logged_and_unlocked_by_admin(url):
    for _ in range(sessions.MAX_FAILURES):
        with pytest.raises(PermissionDenied, match="wrong user name or password"):
            with session_scope(url) as s:
                sessions.login(s, "alice", "wrong")
    assert _events(url, "alice") == ["login_failed"] * sessions.MAX_FAILURES + ["locked"]
    with pytest.raises(PermissionDenied, match="locked"):  # the right password no longer opens it
        with session_scope(url) as s:
            sessions.login(s, "alice", PW)
    with session_scope(url) as s:
        entries = audit.log(s, "security_events")
        assert [e.reason for e in entries][-2:] == ["security: locked", "security: login_failed"]
        with pytest.raises(InputError, match="reason"):
            sessions.unlock(s, "alice", "admin", " ")
        sessions.unlock(s, "alice", "admin", "called the help desk")
    with session_scope(url) as s:
        token, who = sessions.login(s, "alice", PW)
        assert who.role == "analyst" and sessions.locked_until(s, "alice") is None
    with session_scope(url) as s:
        assert audit.verify(s) == []


def test_lockout_expires(url, monkeypatch):
    for _ in range(sessions.MAX_FAILURES):
        with pytest.raises(PermissionDenied), session_scope(url) as s:
            sessions.check_password(s, "alice", "wrong")
    with session_scope(url) as s:
        until = sessions.locked_until(s, "alice")
        assert until is not None
        assert sessions.locked_until(s, "alice", now=until + timedelta(seconds=1)) is None


def test_session_tokens_idle_timeout_logout_and_disabled_user(url):
    with session_scope(url) as s:
        token, who = sessions.login(s, "alice", PW, "cookie")
        assert len(who.csrf_token) >= 24
    with session_scope(url) as s:
        assert sessions.resolve(s, token, "cookie").username == "alice"
        assert sessions.resolve(s, token, "bearer") is None  # a cookie session is no bearer token
        assert sessions.resolve(s, "made-up") is None
        later = utcnow() + sessions.IDLE_TIMEOUT + timedelta(seconds=5)
        assert sessions.resolve(s, token, now=later) is None  # idle too long: closed for good
    with session_scope(url) as s:
        assert sessions.resolve(s, token) is None
        token2, _ = sessions.login(s, "alice", PW)
    with session_scope(url) as s:
        assert sessions.logout(s, token2) and sessions.resolve(s, token2) is None
        token3, _ = sessions.login(s, "alice", PW)
        disable_user(s, "alice", "admin", "left the company")
    with session_scope(url) as s:
        assert sessions.resolve(s, token3) is None
        with pytest.raises(PermissionDenied):
            sessions.login(s, "alice", PW)


def test_authority_matrix():
    assert sessions.can("analyst", "enter_result") and not sessions.can("analyst", "review")
    assert sessions.can("reviewer", "review") and not sessions.can("reviewer", "sign_disposition")
    assert sessions.can("qa", "sign_disposition") and not sessions.can("qa", "manage_users")
    assert sessions.can("admin", "manage_users") and not sessions.can("admin", "enter_result")
    assert all(sessions.can(r, "read") for r in ("analyst", "reviewer", "qa", "admin"))


def test_role_grant_is_audited(url):
    with session_scope(url) as s:
        set_role(s, "alice", "reviewer", "admin", "promoted to reviewer (training record TR-12)")
        e = audit.log(s, "users")[-1]
        assert (e.username, e.field, e.old_value, e.new_value) == ("admin", "role", '"analyst"', '"reviewer"')
        assert e.reason.startswith("promoted")
        with pytest.raises(PermissionDenied, match="last active administrator"):
            set_role(s, "admin", "qa", "admin", "oops")


def test_audit_table_refuses_update_and_delete_on_postgresql(postgres_url):
    u = _pg(postgres_url)
    migrate(u)
    with session_scope(u) as s:
        create_user(s, "admin", "Ada Admin", "admin", PW, by="admin")
    eng = create_engine(u)
    for sql in (
        "UPDATE audit_trail SET reason = 'edited' WHERE id = 1",
        "DELETE FROM audit_trail WHERE id = 1",
        "TRUNCATE audit_trail",
    ):
        with eng.connect() as c, pytest.raises(DBAPIError, match="append-only"):
            c.execute(text(sql))
    with eng.begin() as c:  # appending still works
        c.execute(
            text(
                "INSERT INTO audit_trail (at, username, action, table_name, record_id, reason, prev_hash, "
                "entry_hash) VALUES (now(), 'x', 'create', 'users', 99, 'r', 'p', 'h')"
            )
        )
        assert c.execute(text("SELECT count(*) FROM audit_trail")).scalar() == 2
    eng.dispose()


def test_backup_then_restore_into_empty_database_keeps_the_chain(url, tmp_path, postgres_url):
    with session_scope(url) as s:
        service.create_lot(s, "alice", "MSC-9", "msc", "Basel")
        sessions.login(s, "alice", PW)
    with session_scope(url) as s:
        set_role(s, "alice", "qa", "admin", "grant for the test")
        written = backup.write_backup(s, tmp_path / "backup.json")
        hashes = [e.entry_hash for e in s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
    assert written["audit_trail"] == len(hashes) and written["lots"] == 1
    doc = backup.read_backup(tmp_path / "backup.json")
    for target in (f"sqlite:///{tmp_path / 'restored.db'}", _pg(postgres_url)):  # either backend to both
        assert backup.restore(target, doc) == []
        with session_scope(target) as s:
            restored = [e.entry_hash for e in s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
            assert restored == hashes
            # the restored store goes on: a new record extends the same chain
            service.create_lot(s, "alice", "MSC-10", "msc", "Basel")
        with session_scope(target) as s:
            assert audit.verify(s) == []
            assert audit.log(s)[-1].prev_hash != audit.GENESIS
        with pytest.raises(ValueError, match="not empty"):
            backup.restore(target, doc)
