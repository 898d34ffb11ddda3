"""A migrated SQLite store with an admin and an analyst, and scaffolded lots, for the runner tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cgtqc.runner.scaffold import scaffold
from cgtqc.store.db import migrate, session_scope
from cgtqc.store.users import create_user

PASSWORD = "analyst-password"


def fresh_db(folder: Path) -> str:
    """A migrated SQLite store in ``folder`` with an admin and the analyst alice."""
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'cgtqc.db'}"
    migrate(url)
    with session_scope(url) as s:
        create_user(s, "admin", "Ada Admin", "admin", "admin-password", by="system")
        create_user(s, "alice", "Alice Analyst", "analyst", PASSWORD, by="admin")
    return url


@pytest.fixture
def db(tmp_path: Path) -> str:
    return fresh_db(tmp_path)


@pytest.fixture(scope="session")
def lot_template(tmp_path_factory) -> Path:
    """One simulated lot folder (LV vector: plate, qPCR, ddPCR, flow and microbial engines), made once."""
    folder = tmp_path_factory.mktemp("lots") / "lvv"
    scaffold("lv_vector", folder, lot="LVV-T1", site="Durham", simulate=True, seed=5)
    return folder


@pytest.fixture
def lot_dir(lot_template: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "lot"
    shutil.copytree(lot_template, folder)
    return folder
