"""The server on a real database (SQLite file, or a fresh database on the test PostgreSQL server)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from cgtqc.server import create_app
from cgtqc.store import users
from cgtqc.store.db import engine, migrate, session_scope
from cgtqc.store.users import create_user

PASSWORD = "password-123"
USERS = [
    ("admin", "Ada Admin", "admin"),
    ("alice", "Alice Analyst", "analyst"),
    ("bob", "Bob Reviewer", "reviewer"),
    ("carol", "Carol QA", "qa"),
    ("dave", "Dave Analyst", "analyst"),
]


def new_pg_database(base_url: str, template: str | None = None) -> str:
    """A new database on the test server: empty, or a copy of ``template``."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    eng = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")))
    eng.dispose()
    return base_url.rsplit("/", 1)[0] + f"/{name}"


def seeded(url: str) -> str:
    migrate(url)
    with session_scope(url) as s:
        for username, name, role in USERS:
            create_user(s, username, name, role, PASSWORD, by="admin")
    return url


@contextmanager
def quick_argon2() -> Iterator[None]:
    """argon2id at its lowest cost while the template users are made (the default costs ~0.4 s a hash
    here); each hash names its own parameters, so logging in is the real argon2 check."""
    saved = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        yield
    finally:
        users._hasher = saved


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "seeded.db"
    with quick_argon2():
        seeded(f"sqlite:///{path}")
    engine(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(scope="session")
def pg_template(postgres_url) -> str:
    with quick_argon2():
        url = seeded(new_pg_database(postgres_url))
    engine(url).dispose()  # a template database must have no open connection
    return url.rsplit("/", 1)[1]


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    """A seeded SQLite database (admin, alice, bob, carol, dave; password ``password-123``)."""
    target = tmp_path / "server.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    """A seeded database on each backend."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    yield request.getfixturevalue("pg_url")


@pytest.fixture
def pg_url(postgres_url, pg_template) -> Iterator[str]:
    """A seeded database of its own on the test PostgreSQL server."""
    url = new_pg_database(postgres_url, pg_template)
    yield url
    engine(url).dispose()  # the engine is cached per URL: give its connections back to the server


MSC_VALUES = {  # every msc release test and in-process control passing (entered by hand)
    ("viable_cell_concentration", "release"): ("4.2", "x10^6 cells/mL"),
    ("viability", "release"): ("91.0", "%"),
    ("viability", "in-process: passage 2 harvest"): ("93.0", "%"),
    ("msc_identity", "release"): ("Conforms", ""),
    ("msc_immunosuppression", "release"): ("45", "%"),
    ("tert_mrna", "release"): ("Not detected", ""),
    ("karyotype", "release"): ("Conforms", ""),
    ("adventitious_virus", "release"): ("Not detected", ""),
    ("endotoxin", "release"): ("0.5", "EU/mL"),
    ("sterility", "release"): ("No growth", ""),
    ("mycoplasma", "release"): ("Not detected", ""),
}




class Api:
    """A TestClient with a bearer token per user."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    def token(self, user: str) -> str:
        if user not in self.tokens:
            r = self.client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self.tokens[user] = r.json()["access_token"]
        return self.tokens[user]

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def get(self, path: str, user: str = "alice", **kw):
        return self.client.get(f"/api/v1{path}", headers=self.headers(user), **kw)

    def post(self, path: str, user: str = "alice", **kw):
        return self.client.post(f"/api/v1{path}", headers=self.headers(user), **kw)

    def patch(self, path: str, user: str = "alice", **kw):
        return self.client.patch(f"/api/v1{path}", headers=self.headers(user), **kw)

    password = PASSWORD
    values = MSC_VALUES

    def create_msc_lot(self, lot: str = "MSC-0001", user: str = "alice") -> dict:
        r = self.post("/lots", user, json={"lot_number": lot, "product": "msc", "site": "Basel"})
        assert r.status_code == 201, r.text
        return r.json()

    def enter_all(self, lot: str, user: str = "alice", skip: tuple[str, ...] = ()) -> None:
        for (cqa, stage), (value, unit) in MSC_VALUES.items():
            if cqa in skip:
                continue
            data = {"cqa": cqa, "stage": stage, "value": value, "unit": unit}
            r = self.post(f"/lots/{lot}/results", user, data=data)
            assert r.status_code == 201, r.text


def make_api(url: str, tmp_path) -> Api:
    """The app on ``url`` with every seeded user logged in (a login is an audited event of its own)."""
    app = create_app(url, secure_cookies=False, upload_dir=tmp_path / "uploads")
    api = Api(TestClient(app))
    for username, _name, _role in USERS:
        api.token(username)
    return api


@pytest.fixture
def api(db_url, tmp_path) -> Api:
    return make_api(db_url, tmp_path)


@pytest.fixture
def sqlite_api(sqlite_url, tmp_path) -> Api:
    return make_api(sqlite_url, tmp_path)




@contextmanager
def live_server(app) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port in a thread; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def serve():
    """``with serve(app) as base_url:`` a real uvicorn server on loopback."""
    return live_server
