"""A migrated store (SQLite and PostgreSQL) with the lab's users; helpers to build lots and lab records."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, text
from tests.api.conftest import quick_argon2

from cgtqc import __version__
from cgtqc.lab import instruments, methods, reagents
from cgtqc.lots import service
from cgtqc.results import Measurement, Provenance
from cgtqc.specs import templates
from cgtqc.store.db import migrate, session_scope
from cgtqc.store.users import create_user

PW = "lab-password"
USERS = [
    ("admin", "admin"),
    ("alice", "analyst"),
    ("dave", "analyst"),
    ("bob", "reviewer"),
    ("carol", "qa"),
    ("quinn", "qa"),
]
TODAY = date.today()
MSC_GOOD = {
    "viable_cell_concentration": 4.2,
    "viability": 91.3,
    "msc_identity": "Conforms",
    "msc_immunosuppression": 48.0,
    "tert_mrna": "Not detected",
    "karyotype": "Conforms",
    "adventitious_virus": "Not detected",
    "endotoxin": 0.12,
    "sterility": "No growth",
    "mycoplasma": "Not detected",
}


def _pg(base: str, name: str) -> str:
    with create_engine(base, isolation_level="AUTOCOMMIT").connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        c.execute(text(f"CREATE DATABASE {name}"))
    return base.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        u = f"sqlite:///{tmp_path / 'lab.db'}"
    else:
        u = _pg(request.getfixturevalue("postgres_url"), f"lab_{abs(hash(str(tmp_path))) % 10**9}")
    return _seeded(u)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    u = f"sqlite:///{tmp_path / 'lab.db'}"
    return _seeded(u)


def _seeded(u: str) -> str:
    """Migrate ``u`` and add the lab's users (argon2 at its lowest cost while hashing; see quick_argon2)."""
    migrate(u)
    with quick_argon2(), session_scope(u) as s:
        for name, role in USERS:
            create_user(s, name, name.title(), role, PW, by="system")
    return u


def manual(cqa: str, value, unit: str = "") -> Measurement:
    return Measurement(cqa, value, unit, Provenance("manual-entry", __version__, {}))


def engine_run(cqa: str, value, unit: str = "") -> Measurement:
    return Measurement(cqa, value, unit, Provenance("flow", "1.0", {}))


def unit_of(product: str, cqa: str, stage: str = "release") -> str:
    return templates()[product].line(cqa, stage).unit


def lab_setup(s, *, max_retests: int = 2) -> None:
    """A qualified, calibrated flow cytometer; an accepted antibody lot; method VIAB:2 with alice and dave."""
    instruments.add_instrument(s, "alice", "FC-01", "Flow cytometer 1", "flow cytometer", "QC lab 2")
    for stage in ("iq", "oq", "pq"):
        instruments.record_qualification(s, "bob", "FC-01", stage, TODAY - timedelta(days=400))
    instruments.record_calibration(
        s, "alice", "FC-01", TODAY - timedelta(days=10), TODAY + timedelta(days=170)
    )
    reagents.add_reagent_lot(s, "alice", "AB-7", "7-AAD viability dye", "reagent", TODAY + timedelta(days=90))
    reagents.set_status(s, "bob", "AB-7", "accepted", "incoming check passed")
    methods.add_method_version(
        s,
        "carol",
        "VIAB",
        "2",
        "viability",
        TODAY - timedelta(days=100),
        validation_report="VAL-VIAB-2 (ICH Q2)",
        max_retests=max_retests,
    )
    for analyst in ("alice", "dave"):
        methods.qualify_analyst(
            s, "bob", analyst, "VIAB:2", TODAY - timedelta(days=50), TODAY + timedelta(days=315)
        )


def msc_lot(s, lot_number: str, skip: tuple[str, ...] = (), **values) -> None:
    """An MSC lot with every test entered by alice (typical values, overridden by ``values``)."""
    service.create_lot(s, "alice", lot_number, "msc", "Leiden")
    spec = templates()["msc"]
    for line in spec.lines:
        if line.cqa in skip and line.is_release:
            continue
        v = values.get(line.cqa, MSC_GOOD[line.cqa]) if line.is_release else 88.0
        service.add_result(s, "alice", lot_number, manual(line.cqa, v, line.unit), line.stage)
