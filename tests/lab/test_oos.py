"""OOS investigations (FDA OOS guidance): opened by an OOS verdict, blocking release, retests by the rules."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cgtqc.cli import app
from cgtqc.errors import DispositionError, InputError, PermissionDenied
from cgtqc.lab import oos, reportable
from cgtqc.lab.checks import LabContext
from cgtqc.lab.models import MethodVersion
from cgtqc.lots import disposition, service
from cgtqc.lots.coa import render_html
from cgtqc.store import audit
from cgtqc.store.db import session_scope

from .conftest import PW, lab_setup, manual, msc_lot, unit_of

U = unit_of("msc", "viability")
CHECKLIST = {
    "calculation": "recalculated: no error",
    "instrument": "FC-01 calibrated, QC beads in range",
    "standards": "7-AAD lot AB-7 accepted, in date",
    "method": "VIAB:2 followed",
    "analyst": "alice qualified on VIAB:2",
    "sample": "sample tube found at room temperature for 4 h",
}


def _oos_lot(url: str, lot_number: str = "MSC-9") -> str:
    with session_scope(url) as s:
        lab_setup(s)
        msc_lot(s, lot_number, viability=65.0)
        (inv,) = oos.investigations_of(s, service.get_lot(s, lot_number))
        return inv.number


def _phase_i(url: str, number: str) -> None:
    with session_scope(url) as s:
        oos.record_phase_i(s, "alice", number, CHECKLIST, hypothesis="sample degraded before staining")
        oos.authorise_retests(s, "bob", number, 1, "hypothesis: sample handling; retest the retained sample")


def test_oos_result_opens_phase_i_that_blocks_release_until_closed(url):
    number = _oos_lot(url)
    assert number == "OOS-MSC-9-01"
    with session_scope(url) as s:
        inv = oos.get_investigation(s, number)
        assert (inv.phase, inv.status, inv.cqa, inv.opened_by) == ("I", "open", "viability", "alice")
        disposition.review(s, "bob", PW, "MSC-9")
    with pytest.raises(DispositionError, match=f"OOS investigation {number} open \\(phase I\\)"):
        with session_scope(url) as s:
            disposition.sign(s, "carol", PW, "MSC-9", "released")
    _phase_i(url, number)
    with session_scope(url) as s:
        service.add_result(
            s,
            "dave",
            "MSC-9",
            manual("viability", 90.5, U),
            retest_of=number,
            lab=LabContext("FC-01", ("AB-7",)),
        )
    with pytest.raises(DispositionError, match=number):  # a passing retest alone does not release
        with session_scope(url) as s:
            disposition.sign(s, "carol", PW, "MSC-9", "released")
    with session_scope(url) as s:
        oos.close(
            s,
            "bob",
            PW,
            number,
            "invalidated",
            assignable_cause="sample held at room temperature 4 h before staining (log QC-17)",
        )
    with session_scope(url) as s:
        disposition.review(s, "bob", PW, "MSC-9")  # the retest is reportable now: reviewed like any result
        disposition.sign(s, "carol", PW, "MSC-9", "released")
        lot = service.get_lot(s, "MSC-9")
        assert lot.status == "released"
        current = service.current_results(lot)[("viability", "release")]
        assert (current.value, current.entered_by) == (repr(90.5), "dave")


def test_retest_keeps_the_original_result_visible(url):
    number = _oos_lot(url)
    _phase_i(url, number)
    with session_scope(url) as s:
        service.add_result(s, "dave", "MSC-9", manual("viability", 90.5, U), retest_of=number)
        oos.close(s, "bob", PW, number, "invalidated", assignable_cause="sample handling")
    with session_scope(url) as s:
        lot = service.get_lot(s, "MSC-9")
        rows = [(r.value, r.entered_by) for r in lot.results if r.cqa == "viability" and r.stage == "release"]
        assert rows == [(repr(65.0), "alice"), (repr(90.5), "dave")]  # the original is a row of the lot still
        doc = oos.to_dict(s, oos.get_investigation(s, number))
        assert doc["original"]["value"] == repr(65.0)
        assert [(r["value"], r["analyst"], r["reportable"]) for r in doc["retests"]] == [
            (repr(90.5), "dave", True)
        ]
        assert doc["signatures"][0]["meaning"] == "OOS invalidated"
        html = render_html(s, "MSC-9")
        assert "Appendix: OOS investigations" in html and number in html and "65.0" in html and "90.5" in html
        created = [e for e in audit.log(s, "results") if e.action == "create"]
        assert any('"value": "65.0"' in (e.new_value or "") for e in created)
        assert audit.verify(s) == []


def test_retest_by_the_same_analyst_without_override_is_refused(url):
    number = _oos_lot(url)
    _phase_i(url, number)
    with pytest.raises(PermissionDenied, match="alice performed the original test"):
        with session_scope(url) as s:
            service.add_result(s, "alice", "MSC-9", manual("viability", 90.0, U), retest_of=number)
    with session_scope(url) as s:
        service.add_result(
            s,
            "alice",
            "MSC-9",
            manual("viability", 90.0, U),
            retest_of=number,
            override_reason="only qualified analyst on site this shift (QA approved by phone)",
        )
        (r,) = oos.to_dict(s, oos.get_investigation(s, number))["retests"]
        assert r["analyst"] == "alice" and r["override"].startswith("only qualified analyst")


def test_retests_only_as_authorised_and_capped_by_the_method_version(url):
    number = _oos_lot(url)
    with pytest.raises(PermissionDenied, match="0 of 0 authorised retests"):
        with session_scope(url) as s:
            service.add_result(s, "dave", "MSC-9", manual("viability", 90.0, U), retest_of=number)
    with pytest.raises(InputError, match="phase I is incomplete .*calculation.* and the hypothesis"):
        with session_scope(url) as s:
            oos.authorise_retests(s, "bob", number, 1, "")
    with session_scope(url) as s:
        oos.record_phase_i(s, "alice", number, CHECKLIST, hypothesis="sample degraded")
    with pytest.raises(InputError, match="3 retests exceed the maximum of 2 fixed by method VIAB:2"):
        with session_scope(url) as s:
            oos.authorise_retests(s, "bob", number, 3, "")
    with pytest.raises(PermissionDenied, match="has role 'analyst'"):
        with session_scope(url) as s:
            oos.authorise_retests(s, "alice", number, 1, "")
    with session_scope(url) as s:
        oos.authorise_retests(s, "bob", number, 1, "one retest")
        service.add_result(s, "dave", "MSC-9", manual("viability", 90.0, U), retest_of=number)
    with pytest.raises(PermissionDenied, match="1 of 1 authorised retests performed"):
        with session_scope(url) as s:
            service.add_result(s, "dave", "MSC-9", manual("viability", 91.0, U), retest_of=number)


def test_confirmed_oos_lot_is_rejected_not_released(url):
    number = _oos_lot(url)
    _phase_i(url, number)
    with session_scope(url) as s:
        service.add_result(s, "dave", "MSC-9", manual("viability", 66.1, U), retest_of=number)
        with pytest.raises(InputError, match="is in phase I; start phase II first"):
            oos.record_phase_ii(s, "carol", number, "batch record", "harvest held 3 h")
        oos.start_phase_ii(s, "carol", number, "no laboratory error found; retest confirms")
    with pytest.raises(InputError, match="record its scope and findings before closing"):
        with session_scope(url) as s:
            oos.close(s, "bob", PW, number, "confirmed")
    with pytest.raises(PermissionDenied, match="has role 'reviewer'"):
        with session_scope(url) as s:
            oos.record_phase_ii(s, "bob", number, "batch record", "harvest held 3 h")
    with pytest.raises(InputError, match="needs its scope and its findings"):
        with session_scope(url) as s:
            oos.record_phase_ii(s, "carol", number, "batch record", " ")
    scope, findings = "batch record, process parameters, operator interviews", "harvest held 3 h at 22 °C"
    with session_scope(url) as s:
        doc = oos.to_dict(s, oos.record_phase_ii(s, "carol", number, scope, findings))
        assert (doc["phase_ii_scope"], doc["phase_ii_findings"]) == (scope, findings)
        trail = audit.log(s, "lab_oos_investigations")
        assert {e.field for e in trail if e.reason == "phase II findings"} == {
            "phase_ii_scope",
            "phase_ii_findings",
        }
    with pytest.raises(InputError, match="needs the assignable cause"):
        with session_scope(url) as s:
            oos.close(s, "bob", PW, number, "invalidated")
    with pytest.raises(PermissionDenied, match="wrong password"):
        with session_scope(url) as s:
            oos.close(s, "bob", "not-the-password", number, "confirmed")
    with session_scope(url) as s:
        oos.close(s, "bob", PW, number, "confirmed", conclusion="process-related low viability")
        disposition.review(s, "bob", PW, "MSC-9")
    with pytest.raises(DispositionError, match=r"viability: fail \(65.0 outside"):  # the original stays
        with session_scope(url) as s:
            disposition.sign(s, "carol", PW, "MSC-9", "released")
    with session_scope(url) as s:
        disposition.sign(s, "carol", PW, "MSC-9", "rejected")
        assert service.get_lot(s, "MSC-9").status == "rejected"
        assert oos.get_investigation(s, number).phase == "II"
        assert f"phase II: {findings}" in render_html(s, "MSC-9")  # the certificate's appendix


def test_a_failing_retest_opens_no_second_investigation(url):
    number = _oos_lot(url)
    _phase_i(url, number)
    with session_scope(url) as s:
        service.add_result(s, "dave", "MSC-9", manual("viability", 60.0, U), retest_of=number)
        assert [i.number for i in oos.investigations_of(s, service.get_lot(s, "MSC-9"))] == [number]


def _mv(**kw) -> MethodVersion:
    return MethodVersion(method="POT", version="1", cqa="potency_ifng", **kw)


def test_averaging_refused_where_forbidden_and_outlier_tests_only_where_allowed():
    strict = _mv(averaging_allowed=False, outlier_test_allowed=False)
    bioassay = _mv(averaging_allowed=True, outlier_test_allowed=True)
    with pytest.raises(InputError, match="method POT:1 forbids averaging"):
        reportable.reportable(strict, [98.0, 104.0], average=True)
    with pytest.raises(InputError, match="2 values but one reportable result"):
        reportable.reportable(strict, [98.0, 104.0])
    with pytest.raises(InputError, match="does not allow outlier tests"):
        reportable.reportable(strict, [98.0], outlier_test=True)
    assert reportable.reportable(strict, [98.0]).value == 98.0
    r = reportable.reportable(bioassay, [10.1, 10.2, 9.9, 10.0, 14.0], average=True, outlier_test=True)
    assert r.excluded == [14.0] and r.value == pytest.approx(10.05)


def test_grubbs_critical_value_against_the_published_table():
    from math import sqrt

    from scipy import stats

    n, alpha = 10, 0.05
    t = stats.t.ppf(1 - alpha / (2 * n), n - 2)
    assert (n - 1) / sqrt(n) * sqrt(t * t / (n - 2 + t * t)) == pytest.approx(2.290, abs=0.001)  # ASTM E178
    values = [10.0, 10.1, 9.9, 10.05, 9.95, 10.02, 9.98, 10.03, 9.97, 10.6]
    assert reportable.grubbs_outlier(values) == 9
    assert reportable.grubbs_outlier(values[:-1]) is None


def test_results_under_investigation_are_never_replaced(url):
    number = _oos_lot(url)
    with pytest.raises(InputError, match=f"under OOS investigation {number}: its results are never replaced"):
        with session_scope(url) as s:
            service.add_result(s, "alice", "MSC-9", manual("viability", 91.0, U), replace_reason="typo")
    _phase_i(url, number)
    with session_scope(url) as s:
        service.add_result(s, "dave", "MSC-9", manual("viability", 90.5, U), retest_of=number)
        oos.close(s, "bob", PW, number, "invalidated", assignable_cause="sample handling")
    with pytest.raises(InputError, match="never replaced"):  # nor the reportable retest
        with session_scope(url) as s:
            service.add_result(s, "dave", "MSC-9", manual("viability", 99.0, U), replace_reason="typo")


def test_resamples_are_authorised_apart_with_a_reason_recorded_as_such_and_capped(url):
    number = _oos_lot(url)  # VIAB:2 allows 2 re-measurements in all
    with pytest.raises(InputError, match="phase I is incomplete"):
        with session_scope(url) as s:
            oos.authorise_resamples(s, "bob", number, 1, "tube cracked in transit")
    with session_scope(url) as s:
        oos.record_phase_i(s, "alice", number, CHECKLIST, hypothesis="sample degraded before staining")
    with pytest.raises(InputError, match="not representative"):
        with session_scope(url) as s:
            oos.authorise_resamples(s, "bob", number, 1, " ")
    with pytest.raises(PermissionDenied, match="has role 'analyst'"):
        with session_scope(url) as s:
            oos.authorise_resamples(s, "alice", number, 1, "tube cracked")
    with pytest.raises(PermissionDenied, match="0 of 0 authorised resamples"):
        with session_scope(url) as s:
            service.add_result(
                s, "dave", "MSC-9", manual("viability", 90.0, U), retest_of=number, resample=True
            )
    reason = "original tube held 4 h at room temperature: not representative of the lot"
    with session_scope(url) as s:
        oos.authorise_retests(s, "bob", number, 1, "retest retained sample")
    with pytest.raises(InputError, match="1 retests and 2 resamples exceed the maximum of 2 .*together"):
        with session_scope(url) as s:
            oos.authorise_resamples(s, "bob", number, 2, reason)
    with session_scope(url) as s:
        oos.authorise_resamples(s, "bob", number, 1, reason)
        service.add_result(s, "dave", "MSC-9", manual("viability", 72.0, U), retest_of=number)
        service.add_result(s, "dave", "MSC-9", manual("viability", 90.5, U), retest_of=number, resample=True)
    with pytest.raises(PermissionDenied, match="1 of 1 authorised resamples performed"):
        with session_scope(url) as s:
            service.add_result(
                s, "dave", "MSC-9", manual("viability", 91.0, U), retest_of=number, resample=True
            )
    with pytest.raises(InputError, match="name it"):
        with session_scope(url) as s:
            service.add_result(
                s, "dave", "MSC-9", manual("viability", 91.0, U), resample=True, replace_reason="r"
            )
    with pytest.raises(InputError, match="2 retests and 1 resamples exceed"):
        with session_scope(url) as s:
            oos.authorise_retests(s, "bob", number, 2, "another retest")
    with session_scope(url) as s:
        doc = oos.to_dict(s, oos.get_investigation(s, number))
        assert (doc["retests_authorised"], doc["resamples_authorised"], doc["resample_reason"]) == (
            1,
            1,
            reason,
        )
        assert [(r["role"], r["value"]) for r in doc["retests"]] == [
            ("retest", repr(72.0)),
            ("resample", repr(90.5)),
        ]
        resample_id = doc["retests"][1]["result_id"]
        oos.close(s, "bob", PW, number, "invalidated", assignable_cause="sample mishandled (log QC-17)")
        assert oos.get_investigation(s, number).reportable_result_id == resample_id  # the last valid one
        html = render_html(s, "MSC-9")  # the certificate's appendix names each kind
        assert "retest by dave" in html and "resample by dave" in html
        entries = audit.log(s, "lab_oos_investigations")
        assert any(e.reason == f"resamples authorised: {reason}" for e in entries)
        assert audit.verify(s) == []


def test_resample_through_the_command_line(sqlite_url, monkeypatch):
    number = _oos_lot(sqlite_url)
    with session_scope(sqlite_url) as s:
        oos.record_phase_i(s, "alice", number, CHECKLIST, hypothesis="sample degraded before staining")
    monkeypatch.setenv("CGTQC_DB", sqlite_url.removeprefix("sqlite:///"))
    monkeypatch.setenv("CGTQC_PASSWORD", PW)
    runner = CliRunner()
    r = runner.invoke(app, ["oos", "authorise", number, "--reason", "x", "--user", "bob"])
    assert isinstance(r.exception, InputError) and "--resamples" in str(r.exception)
    args = ["oos", "authorise", number, "--resamples", "1", "--reason", "tube cracked", "--user", "bob"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and "1 resample(s) authorised (maximum 2 in all)" in r.stdout, r.output
    args = ["result", "add", "MSC-9", "viability", "90.5", "--unit", U, "--retest-of", number, "--resample"]
    r = runner.invoke(app, [*args, "--user", "dave"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["oos", "show", number])
    assert (
        "resamples: 1 of 1" in r.stdout
        and "resample #" in r.stdout
        and "resample reason: tube cracked" in r.stdout
    )


def test_phase_ii_findings_through_the_command_line(sqlite_url, monkeypatch):
    number = _oos_lot(sqlite_url)
    with session_scope(sqlite_url) as s:
        oos.start_phase_ii(s, "carol", number, "no laboratory cause found")
    monkeypatch.setenv("CGTQC_DB", sqlite_url.removeprefix("sqlite:///"))
    monkeypatch.setenv("CGTQC_PASSWORD", PW)
    runner = CliRunner()
    args = ["oos", "phase2-findings", number, "--scope", "batch record", "--findings", "harvest held 3 h"]
    r = runner.invoke(app, [*args, "--user", "carol", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["phase_ii_findings"] == "harvest held 3 h"
    shown = runner.invoke(app, ["oos", "show", number]).stdout
    assert "phase II scope: batch record" in shown and "phase II findings: harvest held 3 h" in shown
