"""Database connection and schema migrations (Alembic), SQLite by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker


@cache
def engine(url: str) -> Engine:
    """One engine per URL; SQLite gets foreign keys on and a busy timeout."""
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"timeout": 30}, pool_size=10, max_overflow=40)

        @event.listens_for(eng, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return eng
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=40)  # the server's threads


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "cgtqc.store:migrations")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Create or upgrade the schema to the newest migration of every branch.

    ``heads``, not ``head``: the lab quality system and the server add their tables on branches of their own
    from the same base revision, and a database gets both.
    """
    with engine(url).begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def is_initialised(url: str) -> bool:
    return "alembic_version" in inspect(engine(url)).get_table_names()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One transaction: commit on success, roll back everything on any error (nothing half-written)."""
    session = sessionmaker(engine(url), expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
