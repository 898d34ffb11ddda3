"""The server on a real database (SQLite file, or a fresh database on the test PostgreSQL server)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from cgtqc.server import create_app
from cgtqc.store.db import migrate, session_scope
from cgtqc.store.users import create_user

PASSWORD = "password-123"
USERS = [
    ("admin", "Ada Admin", "admin"),
    ("alice", "Alice Analyst", "analyst"),
    ("bob", "Bob Reviewer", "reviewer"),
    ("carol", "Carol QA", "qa"),
    ("dave", "Dave Analyst", "analyst"),
]


def new_pg_database(base_url: str) -> str:
    """A new empty database on the test server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    eng = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    eng.dispose()
    return base_url.rsplit("/", 1)[0] + f"/{name}"


def seeded(url: str) -> str:
    migrate(url)
    with session_scope(url) as s:
        for username, name, role in USERS:
            create_user(s, username, name, role, PASSWORD, by="admin")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A seeded database (admin, alice, bob, carol, dave; password ``password-123``) on each backend."""
    if request.param == "sqlite":
        return seeded(f"sqlite:///{tmp_path / 'server.db'}")
    return seeded(new_pg_database(request.getfixturevalue("postgres_url")))


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return seeded(f"sqlite:///{tmp_path / 'server.db'}")


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
    app = create_app(url, secure_cookies=False, upload_dir=tmp_path / "uploads")
    return Api(TestClient(app))


@pytest.fixture
def api(db_url, tmp_path) -> Api:
    return make_api(db_url, tmp_path)


@pytest.fixture
def sqlite_api(sqlite_url, tmp_path) -> Api:
    return make_api(sqlite_url, tmp_path)


