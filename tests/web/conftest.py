"""The pages on a real server: a temporary SQLite database seeded with users and lots, served by the real
app (``create_app``) through a TestClient, or by uvicorn on a free loopback port for the browser."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cgtqc import __version__
from cgtqc.lots import service
from cgtqc.lots.isbt128 import check_character
from cgtqc.results import Measurement, Provenance
from cgtqc.server import create_app
from cgtqc.specs import templates
from cgtqc.store.db import migrate, session_scope
from cgtqc.store.users import create_user

PASSWORD = "web-pass-123"
USERS = {  # username -> (printed name, role)
    "admin": ("Ada Admin", "admin"),
    "ann": ("Ann Seeder", "analyst"),  # entered every result but endotoxin
    "ana": ("Ana Analyst", "analyst"),  # uploads the endotoxin plate in the browser
    "rex": ("Rex Reviewer", "reviewer"),
    "quinn": ("Quinn QA", "qa"),
}
LOT = "CART-0001"
EMPTY = "AAV-0001"
CART = templates()["car_t"]
# a passing value for every car_t test except endotoxin, which the analyst uploads as a raw plate export
GOOD = {
    "viable_cell_count": 900.0,
    "transduced_cells_pct": 40.0,
    "appearance": "Conforms",
    "viability": 92.0,
    "cd3_pct": 95.0,
    "car_positive_pct": 35.0,
    "cd4_cd8_ratio": 1.1,
    "car_t_dose": 1.5,
    "vcn": 2.0,
    "transgene_identity": "Conforms",
    "potency_ifng": 100.0,
    "rcl": "Not detected",
    "residual_beads": 3.0,
    "sterility_rapid": None,
    "mycoplasma": "Not detected",
}
DIN = "W123426000009" + check_character("W123426000009")


def seed(url: str) -> None:
    """Users, lot CART-0001 (car_t) with every result but endotoxin, and an empty aav lot."""
    migrate(url)
    with session_scope(url) as s:
        for username, (name, role) in USERS.items():
            create_user(s, username, name, role, PASSWORD, by="admin")
        service.create_lot(
            s,
            "ann",
            LOT,
            "car_t",
            "Basel",
            din=DIN,
            coi_id="COI-1",
            manufactured_on=date(2026, 11, 20),
            expires_on=date(2027, 5, 20),
            storage="<= -150 °C, vapour phase of liquid nitrogen",
        )
        for ln in CART.lines:
            if ln.cqa == "endotoxin":
                continue
            value = GOOD[ln.cqa]
            m = Measurement(
                ln.cqa, value, ln.unit, Provenance("manual-entry", __version__, {"entered_by": "ann"})
            )
            service.add_result(
                s, "ann", LOT, m, ln.stage, rationale="7-day read; released at risk" if value is None else ""
            )
        service.create_lot(s, "ann", EMPTY, "aav", "Basel")


def endotoxin_files(folder: Path) -> list[Path]:
    """A kinetic chromogenic plate export and its layout, written by the endotoxin engine's simulator."""
    from cgtqc.engines import registry

    sim = registry()["endotoxin"].make_simulated(folder, 7, "endotoxin", "car_t")
    return [Path(p) for paths in sim.inputs.values() for p in paths]


@dataclass
class Site:
    url: str
    upload_dir: Path
    app: object


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory) -> Path:
    """One seeded SQLite file per test session; each test works on its own copy."""
    path = tmp_path_factory.mktemp("seed") / "web.db"
    seed(f"sqlite:///{path}")
    return path


@pytest.fixture
def site(seeded_db, tmp_path) -> Site:
    db = tmp_path / "web.db"
    shutil.copyfile(seeded_db, db)
    url = f"sqlite:///{db}"
    app = create_app(url, secure_cookies=False, upload_dir=tmp_path / "uploads")
    return Site(url, tmp_path / "uploads", app)


CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    return CSRF.search(html).group(1)


def login(app, username: str, password: str = PASSWORD, base_url: str = "http://testserver") -> TestClient:
    """A client holding a page session of ``username`` (through the login form, as a browser would)."""
    client = TestClient(app, base_url=base_url, follow_redirects=False)
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text), "next": "/lots"},
    )
    assert r.status_code == 303, r.text
    return client


def page_csrf(client: TestClient, path: str = "/lots") -> str:
    return csrf_of(client.get(path).text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(site) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(site.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
