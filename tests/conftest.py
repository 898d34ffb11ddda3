"""Shared fixtures: the real public data beside the project, skipped only outside CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """Path into ../shared/data; skip the test when absent, fail when CI=true."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared data missing in CI: {path}")
        pytest.skip(f"shared data not present: {path}")
    return path


@pytest.fixture
def shared():
    """The ``shared_data`` function as a fixture: ``shared("ddpcr", "read_quant", "quant.csv")``."""
    return shared_data
