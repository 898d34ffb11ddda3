"""Reportable values computed from replicates and stored: entered as the lot's result through add_result, the
computation kept as an audited record, shown with the result's lab record and refused where the method
version forbids it (nothing written)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cgtqc.cli import app
from cgtqc.errors import InputError
from cgtqc.lab import checks, methods
from cgtqc.lab import reportable as lab_reportable
from cgtqc.lab.models import ReportableResult
from cgtqc.lots import service
from cgtqc.lots.coa import render_html
from cgtqc.lots.reportable import enter_reportable
from cgtqc.store import audit
from cgtqc.store.db import session_scope

from .conftest import PW, TODAY, lab_setup, manual, msc_lot, unit_of

POTENCY = "msc_immunosuppression"


def _setup(url: str) -> None:
    """Lab records, a potency method POT:1 that allows averaging and Grubbs, and lot MSC-1 without potency."""
    with session_scope(url) as s:
        lab_setup(s)
        methods.add_method_version(
            s, "carol", "POT", "1", POTENCY, TODAY - timedelta(days=30),
            averaging_allowed=True, outlier_test_allowed=True,
        )  # fmt: skip
        methods.qualify_analyst(
            s, "bob", "alice", "POT:1", TODAY - timedelta(days=20), TODAY + timedelta(days=300)
        )
        msc_lot(s, "MSC-1", skip=(POTENCY,))


def _potency(s):
    return service.current_results(service.get_lot(s, "MSC-1"))[(POTENCY, "release")]


def test_reportable_value_is_entered_as_the_result_and_its_computation_stored(url):
    _setup(url)
    replicates = [45.0, 46.0, 45.5, 44.8, 60.0]
    with session_scope(url) as s:
        added, rec = enter_reportable(
            s, "alice", "MSC-1", "POT:1", replicates, average=True, outlier_test=True, instrument="FC-01"
        )
    expected = (45.0 + 46.0 + 45.5 + 44.8) / 4
    with session_scope(url) as s:
        result = _potency(s)
        assert float(result.value) == pytest.approx(expected) and result.entered_by == "alice"
        prov = json.loads(result.provenance_json)["parameters"]
        assert (prov["replicates"], prov["excluded"], prov["method_version"]) == (replicates, [60.0], "POT:1")
        lab = checks.describe(s, result.id)
        assert lab["method_version"] == "POT:1" and lab["instrument"] == "FC-01"
        shown = lab["reportable"]
        assert (shown["values"], shown["used"], shown["excluded"]) == (replicates, replicates[:4], [60.0])
        assert shown["averaged"] and shown["outlier_test"] and "Grubbs" in shown["note"]
        (listed,) = lab_reportable.records_of(s, service.get_lot(s, "MSC-1"))
        assert listed.result_id == result.id and listed.value == result.value
        trail = audit.log(s, "lab_reportable_results")
        assert [e.action for e in trail] == ["create"]
        assert not list(audit.verify(s))
        assert f"{expected:.0f}" in render_html(s, "MSC-1")  # the certificate reports the stored value
        # a value typed by hand replaces it: the computation stays on record, no longer behind the result
        service.add_result(
            s, "alice", "MSC-1", manual(POTENCY, 47.0, unit_of("msc", POTENCY)), replace_reason="re-read"
        )
        assert checks.describe(s, _potency(s).id)["reportable"] is None
        assert len(lab_reportable.records_of(s, service.get_lot(s, "MSC-1"))) == 1


def test_forbidden_averaging_or_an_unqualified_analyst_writes_nothing(url):
    _setup(url)
    with pytest.raises(InputError, match="VIAB:2 forbids averaging"):
        with session_scope(url) as s:
            enter_reportable(s, "alice", "MSC-1", "VIAB:2", [90.1, 90.5], average=True, replace_reason="r")
    with pytest.raises(InputError, match="bob is not qualified on method POT:1"):
        with session_scope(url) as s:
            enter_reportable(s, "bob", "MSC-1", "POT:1", [45.0, 46.0], average=True)
    with pytest.raises(InputError, match="finite"):
        with session_scope(url) as s:
            enter_reportable(s, "alice", "MSC-1", "POT:1", [45.0, float("nan")], average=True)
    with session_scope(url) as s:
        assert s.execute(select(func.count()).select_from(ReportableResult)).scalar_one() == 0
        assert (POTENCY, "release") not in service.current_results(service.get_lot(s, "MSC-1"))


def test_method_reportable_command_stores_with_lot_and_computes_without(sqlite_url, monkeypatch):
    _setup(sqlite_url)
    monkeypatch.setenv("CGTQC_DB", sqlite_url.removeprefix("sqlite:///"))
    monkeypatch.setenv("CGTQC_PASSWORD", PW)
    runner = CliRunner()
    r = runner.invoke(app, ["method", "reportable", "POT:1", "45", "46", "--average", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["value"] == 45.5
    r = runner.invoke(
        app,
        [
            "method",
            "reportable",
            "POT:1",
            "45",
            "46",
            "--average",
            "--lot",
            "MSC-1",
            "--user",
            "alice",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["lot"], doc["cqa"], doc["value"], doc["values"]) == (
        "MSC-1",
        POTENCY,
        repr(45.5),
        [45.0, 46.0],
    )
    r = runner.invoke(app, ["method", "reportable", "POT:1", "45", "--lot", "MSC-1"])  # who stores it?
    assert isinstance(r.exception, InputError) and "needs the acting user" in str(r.exception)
    args = ["method", "reportable", "VIAB:2", "90", "91", "--average", "--lot", "MSC-1", "--user", "alice"]
    r = runner.invoke(app, args)
    assert isinstance(r.exception, InputError) and "forbids averaging" in str(r.exception)
