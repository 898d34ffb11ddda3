"""Schema migrations match the models; the audit chain stays linear under concurrent writers (PostgreSQL)."""

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from cgtqc.store import audit
from cgtqc.store.db import engine, migrate, session_scope
from cgtqc.store.models import Base, Notification
from cgtqc.store.users import create_user


def _pg_database(base_url: str, name: str) -> str:
    with create_engine(base_url, isolation_level="AUTOCOMMIT").connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        c.execute(text(f"CREATE DATABASE {name}"))
    return base_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_models(backend, tmp_path, request):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
    else:
        url = _pg_database(request.getfixturevalue("postgres_url"), "mig_check")
    migrate(url)
    migrate(url)  # idempotent
    with engine(url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_concurrent_writers_keep_one_chain(postgres_url):
    url = _pg_database(postgres_url, "concurrent")
    migrate(url)
    with session_scope(url) as s:
        create_user(s, "w", "Writer", "analyst", "password-123", by="test")
        from cgtqc.store.models import Lot

        lot = Lot(lot_number="C1", product="msc", spec_version="1.0", site="S", created_by="w")
        audit.add(s, lot, "w")
        lot_id = lot.id

    def writer(k: int) -> None:
        for i in range(15):
            with session_scope(url) as s:
                audit.add(s, Notification(lot_id=lot_id, message=f"writer {k} note {i}"), f"w{k}")

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with session_scope(url) as s:
        entries = audit.log(s)
        assert len(entries) == 2 + 60
        assert len({e.prev_hash for e in entries}) == len(entries)  # no fork: every entry has its own parent
        assert audit.verify(s) == []


def test_update_requires_reason(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrate(url)
    with session_scope(url) as s:
        u = create_user(s, "x", "X", "analyst", "password-123", by="test")
        with pytest.raises(ValueError, match="reason"):
            audit.update(s, u, {"full_name": "Y"}, "x", " ")
