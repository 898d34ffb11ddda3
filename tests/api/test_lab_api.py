"""The laboratory quality system through the REST API (SQLite and PostgreSQL): the lab checks refuse a result
with the reason, an OOS result opens an investigation, its signed outcome makes the retest reportable."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cgtqc.engines import registry

TODAY = date.today()
CHECKLIST = {
    "calculation": "recalculated: no error",
    "instrument": "FC-01 calibrated, QC beads in range",
    "standards": "7-AAD lot AB-7 accepted, in date",
    "method": "VIAB:2 followed",
    "analyst": "alice qualified on VIAB:2",
    "sample": "sample tube found at room temperature for 4 h",
}


def _day(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


def _ok(r, status: int = 200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


def _instrument(api, code: str, calibrated: int, due: int) -> None:
    inst = {"code": code, "name": f"Flow cytometer {code}", "kind": "flow cytometer", "location": "QC lab 2"}
    _ok(api.post("/instruments", "alice", json=inst), 201)
    for stage in ("iq", "oq", "pq"):
        _ok(
            api.post(f"/instruments/{code}/qualifications", "bob", json={"stage": stage, "on": _day(-400)}),
            201,
        )
    _ok(
        api.post(
            f"/instruments/{code}/calibrations", "alice", json={"on": _day(calibrated), "due": _day(due)}
        ),
        201,
    )


def lab_setup(api) -> None:
    """A calibrated flow cytometer, an accepted dye lot, method VIAB:2 with alice and dave qualified."""
    _instrument(api, "FC-01", -10, 170)
    rl = {"lot_number": "AB-7", "name": "7-AAD viability dye", "expires_on": _day(90)}
    assert _ok(api.post("/reagent-lots", "alice", json=rl), 201)["status"] == "quarantine"
    _ok(api.post("/reagent-lots/AB-7/status", "bob", json={"status": "accepted"}))
    mv = {
        "method": "VIAB",
        "version": "2",
        "cqa": "viability",
        "effective_from": _day(-100),
        "validation_report": "VAL-VIAB-2 (ICH Q2)",
        "max_retests": 2,
    }
    _ok(api.post("/method-versions", "carol", json=mv), 201)
    for analyst in ("alice", "dave"):
        q = {"analyst": analyst, "method_version": "VIAB:2", "trained_on": _day(-50), "expires_on": _day(315)}
        _ok(api.post("/analyst-qualifications", "bob", json=q), 201)


def _viability(api, user: str, value: str, **lab: str):
    data = {"cqa": "viability", "value": value, "unit": "%", **lab}
    return api.post("/lots/MSC-9/results", user, data=data)


def test_lab_records_are_listed_shown_and_audited(api):
    lab_setup(api)
    (inst,) = _ok(api.get("/instruments"))
    assert (inst["code"], inst["usable_today"], inst["calibration_due"]) == ("FC-01", True, _day(170))
    assert _ok(api.get("/instruments/FC-01"))["pq_on"] == _day(-400)
    assert _ok(api.get("/reagent-lots/AB-7"))["status"] == "accepted"
    assert [m["method_version"] for m in _ok(api.get("/method-versions"))] == ["VIAB:2"]
    assert _ok(api.get("/method-versions/VIAB:2"))["max_retests"] == 2
    assert {q["analyst"] for q in _ok(api.get("/analyst-qualifications"))} == {"alice", "dave"}
    revoke = {"analyst": "dave", "method_version": "VIAB:2", "reason": "left the lab"}
    assert _ok(api.post("/analyst-qualifications/revocations", "bob", json=revoke))["revoked"]
    assert [q["revoked"] for q in _ok(api.get("/analyst-qualifications?analyst=dave"))] == [True]
    for table in ("lab_instruments", "lab_reagent_lots", "lab_method_versions", "lab_analyst_qualifications"):
        assert _ok(api.get(f"/audit?table={table}"))["total"] > 0, table
    assert _ok(api.get("/audit/verify"))["intact"]
    assert api.get("/instruments/NOPE").json() == {"detail": "no instrument 'NOPE'"}
    assert api.get("/instruments/NOPE").status_code == 404


def test_out_of_calibration_instrument_is_refused_with_the_reason(api):
    lab_setup(api)
    _instrument(api, "FC-02", -200, -1)
    api.create_msc_lot("MSC-9")
    r = _viability(api, "alice", "91", instrument="FC-02", reagents="AB-7")
    assert r.status_code == 422
    assert r.json() == {"detail": r.json()["detail"]} and "FC-02 is out of calibration" in r.json()["detail"]
    assert "\n" not in r.json()["detail"]
    assert not _ok(api.get("/instruments/FC-02"))["usable_today"]
    _ok(_viability(api, "alice", "91", instrument="FC-01", reagents="AB-7", method_version="VIAB:2"), 201)


def test_oos_result_opens_an_investigation_and_its_invalidation_makes_the_retest_reportable(api):
    lab_setup(api)
    api.create_msc_lot("MSC-9")
    _ok(_viability(api, "alice", "65", instrument="FC-01", reagents="AB-7"), 201)
    (inv,) = _ok(api.get("/oos?open_only=true"))
    number = inv["number"]
    assert (number, inv["phase"], inv["status"], inv["cqa"]) == ("OOS-MSC-9-01", "I", "open", "viability")
    assert _ok(api.get(f"/oos/{number}"))["original"]["value"] == repr(65.0)
    # the supervisor authorises only after a complete phase I; an analyst may not authorise
    r = api.post(f"/oos/{number}/retests", "bob", json={"retests": 1, "reason": "retest retained sample"})
    assert r.status_code == 422
    r = api.post(f"/oos/{number}/retests", "alice", json={"retests": 1, "reason": "retest retained sample"})
    assert r.status_code == 403 and "has role" in r.json()["detail"]
    phase = {"findings": CHECKLIST, "hypothesis": "sample degraded before staining"}
    assert _ok(api.post(f"/oos/{number}/phase1", "alice", json=phase))["missing_checklist"] == []
    _ok(api.post(f"/oos/{number}/retests", "bob", json={"retests": 1, "reason": "retest retained sample"}))
    # results under investigation are never replaced; the same analyst may not retest without an override
    r = _viability(api, "alice", "90", replace_reason="typo")
    assert r.status_code == 422 and number in r.json()["detail"]
    assert _viability(api, "alice", "90", retest_of=number).status_code == 403
    _ok(_viability(api, "dave", "90.5", retest_of=number, instrument="FC-01", reagents="AB-7"), 201)
    close = {
        "outcome": "invalidated",
        "password": api.password,
        "assignable_cause": "sample held at room temperature 4 h before staining (log QC-17)",
    }
    assert api.post(f"/oos/{number}/close", "alice", json=close).status_code == 403  # not a supervisor
    assert api.post(f"/oos/{number}/close", "bob", json={**close, "assignable_cause": ""}).status_code == 422
    doc = _ok(api.post(f"/oos/{number}/close", "bob", json=close))
    assert (doc["status"], doc["outcome"]) == ("closed", "invalidated")
    assert [(r["value"], r["analyst"], r["reportable"]) for r in doc["retests"]] == [
        (repr(90.5), "dave", True)
    ]
    assert doc["signatures"][0]["meaning"] == "OOS invalidated"
    assert _ok(api.get("/oos?open_only=true")) == []
    api.enter_all("MSC-9", "alice", skip=("viability",))
    ipc = {"cqa": "viability", "stage": "in-process: passage 2 harvest", "value": "93", "unit": "%"}
    _ok(api.post("/lots/MSC-9/results", "alice", data=ipc), 201)
    _ok(api.post("/lots/MSC-9/review", "bob", json={"password": api.password}), 201)
    signed = api.post(
        "/lots/MSC-9/signatures", "carol", json={"meaning": "released", "password": api.password}
    )
    detail = _ok(signed, 201)["detail"]
    assert detail["status"] == "released"
    (test,) = [t for t in detail["tests"] if (t["cqa"], t["stage"]) == ("viability", "release")]
    assert (test["result"]["value"], test["result"]["entered_by"]) == (
        repr(90.5),
        "dave",
    )  # the retest reports


def test_resample_is_authorised_and_entered_as_a_resample(api):
    lab_setup(api)
    api.create_msc_lot("MSC-9")
    _ok(_viability(api, "alice", "65"), 201)
    number = "OOS-MSC-9-01"
    phase = {"findings": CHECKLIST, "hypothesis": "sample degraded before staining"}
    _ok(api.post(f"/oos/{number}/phase1", "alice", json=phase))
    body = {"resamples": 1, "reason": "tube held 4 h at room temperature: not representative"}
    assert api.post(f"/oos/{number}/resamples", "alice", json=body).status_code == 403
    assert api.post(f"/oos/{number}/resamples", "bob", json={**body, "resamples": 3}).status_code == 422
    assert api.post(f"/oos/{number}/resamples", "bob", json={**body, "reason": ""}).status_code == 422
    doc = _ok(api.post(f"/oos/{number}/resamples", "bob", json=body))
    assert (doc["resamples_authorised"], doc["retests_authorised"]) == (1, 0)
    r = _viability(api, "dave", "90.5", retest_of=number)  # a retest was not authorised
    assert r.status_code == 403 and "0 of 0 authorised retests" in r.json()["detail"]
    _ok(_viability(api, "dave", "90.5", retest_of=number, resample="true"), 201)
    (entry,) = _ok(api.get(f"/oos/{number}"))["retests"]
    assert (entry["role"], entry["value"], entry["analyst"]) == ("resample", repr(90.5), "dave")


def test_reagent_recall_lists_the_affected_results_and_lots(api):
    lab_setup(api)
    api.create_msc_lot("MSC-9")
    _ok(_viability(api, "alice", "91", instrument="FC-01", reagents="AB-7"), 201)
    assert api.post("/reagent-lots/AB-7/recall", "bob", json={"reason": "supplier notice"}).status_code == 403
    doc = _ok(api.post("/reagent-lots/AB-7/recall", "carol", json={"reason": "supplier notice SN-4"}))
    assert doc["product_lots"] == ["MSC-9"]
    assert [(r["cqa"], r["stage"]) for r in doc["results"]] == [("viability", "release")]
    assert _ok(api.get("/reagent-lots/AB-7"))["status"] == "recalled"
    r = _viability(api, "alice", "92", instrument="FC-01", reagents="AB-7", replace_reason="re-read")
    assert r.status_code == 422 and "AB-7" in r.json()["detail"]


def test_deviation_is_opened_by_anyone_and_closed_by_qa(api):
    api.create_msc_lot("MSC-9")
    body = {"title": "freezer excursion", "owner": "dave", "due_on": _day(30), "lot": "MSC-9"}
    dev = _ok(api.post("/deviations", "alice", json=body), 201)
    number = dev["number"]
    assert [d["number"] for d in _ok(api.get("/deviations?lot=MSC-9"))] == [number]
    assert _ok(api.get(f"/deviations/{number}"))["status"] == "open"
    r = api.post(f"/deviations/{number}/status", "alice", json={"status": "closed", "reason": "done"})
    assert r.status_code == 422 and "only QA" in r.json()["detail"]
    closed = _ok(
        api.post(f"/deviations/{number}/status", "carol", json={"status": "closed", "reason": "done"})
    )
    assert closed["status"] == "closed"
    assert api.post("/deviations", "alice", json={**body, "lot": "NOPE"}).status_code == 422
    assert api.get("/deviations/DEV-NOPE").status_code == 404


@pytest.fixture(scope="module")
def plate(tmp_path_factory) -> list[str]:
    """A simulated kinetic chromogenic plate export and its layout (the endotoxin engine's own simulator)."""
    sim = registry()["endotoxin"].make_simulated(tmp_path_factory.mktemp("plate"), 3, "endotoxin", "msc")
    return [p for ps in sim.inputs.values() for p in ps]


def _endotoxin_upload(api, plate: list[str], user: str = "alice", **lab: str):
    data = {"cqa": "endotoxin", "params": '{"method": "kinetic_chromogenic"}', **lab}
    files = [("files", (p.split("/")[-1], open(p, "rb"), "text/csv")) for p in plate]
    return api.post("/lots/MSC-9/results", user, data=data, files=files)


def test_raw_file_upload_carries_its_lab_record_checked_as_the_runner_does(sqlite_api, plate):
    api = sqlite_api
    _instrument(api, "PR-01", -10, 170)
    _instrument(api, "PR-02", -200, -1)  # out of calibration since yesterday
    rl = {"lot_number": "LAL-3", "name": "chromogenic LAL", "kind": "kit", "expires_on": _day(90)}
    _ok(api.post("/reagent-lots", "alice", json=rl), 201)
    _ok(api.post("/reagent-lots/LAL-3/status", "bob", json={"status": "accepted"}))
    api.create_msc_lot("MSC-9")
    # an engine run on an out-of-calibration reader is stored, but invalid with the reason
    doc = _ok(_endotoxin_upload(api, plate, instrument="PR-02", reagents="LAL-3"), 201)
    (test,) = [t for t in doc["detail"]["tests"] if t["cqa"] == "endotoxin"]
    assert test["verdict"] == "invalid"
    (check,) = [c for c in test["result"]["checks"] if c["name"] == "lab-record"]
    assert not check["passed"] and "PR-02 is out of calibration" in check["detail"]
    # a method version the uploading analyst is not qualified on: refused with the reason
    mv = {"method": "LAL", "version": "1", "cqa": "endotoxin", "effective_from": _day(-30)}
    _ok(api.post("/method-versions", "carol", json=mv), 201)
    r = _endotoxin_upload(api, plate, instrument="PR-01", method_version="LAL:1", replace_reason="re-read")
    assert r.status_code == 422 and "alice is not qualified on method LAL:1" in r.json()["detail"]
    q = {"analyst": "alice", "method_version": "LAL:1", "trained_on": _day(-20), "expires_on": _day(300)}
    _ok(api.post("/analyst-qualifications", "bob", json=q), 201)
    doc = _ok(
        _endotoxin_upload(
            api, plate, instrument="PR-01", reagents="LAL-3", method_version="LAL:1", replace_reason="re-read"
        ),
        201,
    )
    (test,) = [t for t in doc["detail"]["tests"] if t["cqa"] == "endotoxin"]
    assert test["verdict"] == "pass" and test["result"]["provenance"]["engine"] == "endotoxin"
    lab = test["result"]["lab"]  # the lot detail names the result's lab record, as the lot page does
    assert (lab["instrument"], lab["reagents"], lab["method_version"], lab["valid"]) == (
        "PR-01", ["LAL-3"], "LAL:1", True
    )
    detail = _ok(api.get("/lots/MSC-9"))
    labs = {r["id"]: r["lab"] for r in detail["results"]}
    assert labs[test["result"]["id"]] == lab
    used = _ok(api.get("/reagent-lots/LAL-3"))["used_by"]
    assert used["product_lots"] == ["MSC-9"] and [r["cqa"] for r in used["results"]] == ["endotoxin"]
    trail = _ok(api.get("/audit?table=lab_result_links"))
    assert [e["action"] for e in reversed(trail["entries"])][:2] == ["create", "update"]


def test_capa_actions_and_overdue_through_the_api(api):
    api.create_msc_lot("MSC-9")
    body = {"title": "freezer excursion", "owner": "dave", "due_on": _day(5), "lot": "MSC-9"}
    number = _ok(api.post("/deviations", "alice", json=body), 201)["number"]
    capa = {
        "kind": "corrective",
        "description": "retrain on freezer alarms",
        "owner": "dave",
        "due_on": _day(3),
    }
    r = api.post(f"/deviations/{number}/capa", "alice", json=capa)
    assert r.status_code == 403 and "has role" in r.json()["detail"]
    assert api.post(f"/deviations/{number}/capa", "bob", json={**capa, "kind": "other"}).status_code == 422
    dev = _ok(api.post(f"/deviations/{number}/capa", "bob", json=capa), 201)
    ((action),) = dev["capa"]
    assert (dev["status"], action["status"], action["owner"]) == ("capa", "open", "dave")
    late = _ok(api.get("/deviations/overdue", params={"on": _day(10)}))
    assert [(x["record"], x["owner"], x["due_on"]) for x in late] == [
        (number, "dave", _day(5)),
        (f"CAPA #{action['id']}", "dave", _day(3)),
    ]
    assert late[0]["line"] == f"{number} (dave) due {_day(5)}"
    assert _ok(api.get("/deviations/overdue")) == []  # today: nothing is late yet
    assert api.get("/deviations/overdue", params={"on": "tomorrow"}).status_code == 422
    url = f"/capa-actions/{action['id']}/status"
    r = api.post(url, "alice", json={"status": "done"})
    assert r.status_code == 422 and "owned by dave" in r.json()["detail"]
    assert api.post(url, "dave", json={"status": "verified"}).status_code == 422  # only QA verifies
    assert (
        _ok(api.post(url, "dave", json={"status": "done", "reason": "TR-88"}))["capa"][0]["status"] == "done"
    )
    assert _ok(api.post(url, "carol", json={"status": "verified"}))["capa"][0]["status"] == "verified"
    assert api.post("/capa-actions/999999/status", "carol", json={"status": "done"}).status_code == 422
    closed = _ok(api.post(f"/deviations/{number}/status", "carol", json={"status": "closed", "reason": "ok"}))
    assert closed["status"] == "closed"
    trail = _ok(api.get("/audit?table=lab_capa_actions"))
    assert trail["total"] >= 3  # added, done, verified
    assert _ok(api.get("/audit/verify"))["intact"]


def test_reportable_value_follows_the_method_versions_rules(api):
    lab_setup(api)
    r = api.post("/method-versions/VIAB:2/reportable", json={"values": [90.1, 90.5], "average": True})
    assert r.status_code == 422 and "forbids averaging" in r.json()["detail"]
    assert _ok(api.post("/method-versions/VIAB:2/reportable", json={"values": [90.5]}))["value"] == 90.5
    mv = {
        "method": "POT",
        "version": "1",
        "cqa": "msc_immunosuppression",
        "effective_from": _day(-10),
        "averaging_allowed": True,
        "outlier_test_allowed": True,
    }
    _ok(api.post("/method-versions", "carol", json=mv), 201)
    body = {"values": [45.0, 46.0, 45.5, 44.8, 60.0], "average": True, "outlier_test": True}
    doc = _ok(api.post("/method-versions/POT:1/reportable", "bob", json=body))
    assert doc["excluded"] == [60.0] and doc["value"] == (45.0 + 46.0 + 45.5 + 44.8) / 4
    assert "Grubbs" in doc["note"] and doc["method_version"] == "POT:1"
    assert api.post("/method-versions/NOPE:1/reportable", json={"values": [1.0]}).status_code == 404
    # with a lot: entered as the lot's result (201) and kept as an audited record, listed per lot
    api.create_msc_lot("MSC-9")
    q = {"analyst": "alice", "method_version": "POT:1", "trained_on": _day(-5), "expires_on": _day(300)}
    _ok(api.post("/analyst-qualifications", "bob", json=q), 201)
    stored = {**body, "lot": "MSC-9"}
    assert api.post("/method-versions/POT:1/reportable", "admin", json=stored).status_code == 403
    doc = _ok(api.post("/method-versions/POT:1/reportable", "alice", json=stored), 201)
    assert (doc["lot"], doc["cqa"], doc["excluded"], doc["recorded_by"]) == (
        "MSC-9",
        "msc_immunosuppression",
        [60.0],
        "alice",
    )
    (test,) = [t for t in _ok(api.get("/lots/MSC-9"))["tests"] if t["cqa"] == "msc_immunosuppression"]
    assert test["result"]["value"] == doc["value"] and test["result"]["id"] == doc["result_id"]
    assert test["result"]["provenance"]["parameters"]["replicates"] == body["values"]
    assert [r["id"] for r in _ok(api.get("/reportable-results?lot=MSC-9"))] == [doc["id"]]
    assert api.get("/reportable-results?lot=NOPE").status_code == 404
    nan = {"values": [1.0, "NaN"], "average": True}
    assert api.post("/method-versions/POT:1/reportable", json=nan).status_code == 422
    assert api.post("/method-versions/POT:1/reportable", json={"values": []}).status_code == 422


def test_supplying_an_oos_lot_through_the_api(api):
    api.create_msc_lot("MSC-9")
    api.create_msc_lot("MSC-8")
    _ok(
        api.post("/lots/MSC-9/results", "alice", data={"cqa": "endotoxin", "value": "99", "unit": "EU/mL"}),
        201,
    )
    body = {
        "lot": "MSC-9",
        "physician": "Dr Weiss",
        "request": "REQ-17: no alternative treatment",
        "risk_evaluation": "RE-17: endotoxin risk accepted by the physician",
        "authority": "PEI",
        "password": api.password,
    }
    r = api.post("/oos/supply", "bob", json=body)
    assert r.status_code == 403 and "has role" in r.json()["detail"]
    assert api.post("/oos/supply", "carol", json={**body, "request": ""}).status_code == 422
    assert api.post("/oos/supply", "carol", json={**body, "lot": "MSC-8"}).status_code == 409  # not OOS
    doc = _ok(api.post("/oos/supply", "carol", json=body), 201)
    assert doc == {"lot": "MSC-9", "physician": "Dr Weiss", "authority": "PEI", "qp": "carol"}
    assert _ok(api.get("/audit?table=lab_exceptional_releases"))["total"] == 1


def test_phase_ii_findings_are_recorded_before_a_phase_ii_case_closes(api):
    lab_setup(api)
    api.create_msc_lot("MSC-9")
    _ok(_viability(api, "alice", "65"), 201)
    number = "OOS-MSC-9-01"
    findings = {"scope": "batch record and process parameters", "findings": "harvest held 3 h too long"}
    assert api.post(f"/oos/{number}/phase2/findings", "carol", json=findings).status_code == 422  # phase I
    _ok(api.post(f"/oos/{number}/phase2", "carol", json={"reason": "no laboratory cause"}))
    close = {"outcome": "confirmed", "password": api.password, "conclusion": "process-related"}
    r = api.post(f"/oos/{number}/close", "bob", json=close)
    assert r.status_code == 422 and "record its scope and findings" in r.json()["detail"]
    r = api.post(f"/oos/{number}/phase2/findings", "bob", json=findings)
    assert r.status_code == 403 and "has role" in r.json()["detail"]
    assert (
        api.post(f"/oos/{number}/phase2/findings", "carol", json={**findings, "scope": ""}).status_code == 422
    )
    doc = _ok(api.post(f"/oos/{number}/phase2/findings", "carol", json=findings))
    assert (doc["phase_ii_scope"], doc["phase_ii_findings"]) == (findings["scope"], findings["findings"])
    assert _ok(api.post(f"/oos/{number}/close", "bob", json=close))["status"] == "closed"
