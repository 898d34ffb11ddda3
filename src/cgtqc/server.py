"""The web server: one ASGI app composing the REST API (`cgtqc.api`) and the pages (`cgtqc.web`).

``create_app(db_url)`` upgrades the database to every migration head (zero configuration on a new SQLite
file), then keeps on ``app.state``:

- ``db_url``: the SQLAlchemy URL;
- ``sessionmaker``: a SQLAlchemy session factory on the store's engine;
- ``session_scope()``: a context manager, one transaction (commit on success, rollback on error);
- ``write_scope()``: the same for writes; on SQLite it also holds a process-wide lock, because SQLite has one
  writer at a time and the audit chain must stay linear; on PostgreSQL it takes the chain's advisory lock
  (``audit.lock_chain``) before anything is read, so a write's checks ("this test has no result yet") and
  its writes are one step across threads and server processes alike;
- ``sign_in_scope()``: a write scope for logging in and out, which takes the advisory lock only at its audit
  entry (a failed login's), so logins do not queue behind one another's password hashing;
- ``secure_cookies``, ``idle_timeout`` and ``upload_dir`` (raw files of uploads and the engines' artefacts);
- ``read_cache``: the lot pages and lot lists the API answered, memoised per audit chain head
  (:mod:`cgtqc.store.readcache`; ``read_cache=0`` turns it off); a memoised answer to a bearer token's GET
  is sent by :class:`cgtqc.api.front.MemoFront` before the framework runs.

The pages are mounted only when ``cgtqc.web`` defines a ``router`` (in the package or in a ``router``
module); ``cgtqc.web.install(app)``, when present, runs last (static files, its own error pages).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from cgtqc import __version__
from cgtqc.api import install as install_api
from cgtqc.api.front import MemoFront
from cgtqc.store import audit
from cgtqc.store.db import engine, migrate
from cgtqc.store.readcache import ReadCache
from cgtqc.store.sessions import IDLE_TIMEOUT


def resolve_db_url(db: str | None) -> str:
    """The database: the argument, then $CGTQC_DB, then ./cgtqc.db; a bare path means SQLite."""
    value = db or os.environ.get("CGTQC_DB") or "cgtqc.db"
    return value if "://" in value else f"sqlite:///{value}"


def _default_upload_dir(url: str) -> Path:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        db_file = Path(url.removeprefix("sqlite:///"))
        return db_file.with_name(db_file.name + ".uploads")
    return Path(tempfile.gettempdir()) / "cgtqc-uploads"


def _web_router() -> Any | None:
    """``cgtqc.web.router`` when the pages exist (the server works without them)."""
    try:
        web = importlib.import_module("cgtqc.web")
    except ImportError:
        return None
    router = getattr(web, "router", None)
    if router is not None and not isinstance(router, type(web)):
        return router
    if importlib.util.find_spec("cgtqc.web.router") is None:
        return None
    module = importlib.import_module("cgtqc.web.router")
    return getattr(module, "router", None)


SECURE_COOKIES_ENV = "CGTQC_SECURE_COOKIES"


def app_from_environment() -> FastAPI:
    """The app of one ``cgtqc serve --workers`` process: the database from $CGTQC_DB, cookies Secure unless
    $CGTQC_SECURE_COOKIES is ``0`` (each worker process imports this factory and builds its own app)."""
    return create_app(None, secure_cookies=os.environ.get(SECURE_COOKIES_ENV, "1") != "0")


def create_app(
    db_url: str | None = None,
    *,
    secure_cookies: bool = True,
    idle_timeout: timedelta = IDLE_TIMEOUT,
    upload_dir: str | Path | None = None,
    read_cache: int = 2048,
) -> FastAPI:
    """The cgtqc server on ``db_url`` (SQLite file by default): REST API under /api/v1, pages, /healthz."""
    url = resolve_db_url(db_url)
    migrate(url)
    app = FastAPI(
        title="cgtqc",
        version=__version__,
        summary="QC results, review, e-signatures and lot release for cell and gene therapy products",
    )
    factory = sessionmaker(engine(url), expire_on_commit=False)
    lock = threading.Lock() if url.startswith("sqlite") else None

    @contextmanager
    def session_scope() -> Iterator[Session]:
        session = factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def sign_in_scope() -> Iterator[Session]:
        with lock if lock is not None else nullcontext(), session_scope() as session:
            yield session

    @contextmanager
    def write_scope() -> Iterator[Session]:
        with sign_in_scope() as session:
            audit.lock_chain(session)  # before the write's checks, so checks and writes are one step
            yield session

    app.state.db_url = url
    app.state.sessionmaker = factory
    app.state.session_scope = session_scope
    app.state.write_scope = write_scope
    app.state.sign_in_scope = sign_in_scope
    app.state.secure_cookies = secure_cookies
    app.state.idle_timeout = idle_timeout
    app.state.upload_dir = Path(upload_dir) if upload_dir else _default_upload_dir(url)
    app.state.read_cache = ReadCache(read_cache)

    install_api(app)
    app.add_middleware(
        MemoFront, engine=engine(url), cache=app.state.read_cache, idle_timeout=idle_timeout
    )  # memoised lot lists and pages answered before the framework (api.front)
    router = _web_router()
    if router is not None:
        app.include_router(router)
        web = importlib.import_module("cgtqc.web")
        if callable(getattr(web, "install", None)):
            web.install(app)
    return app
