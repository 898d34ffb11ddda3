"""The Lab page's forms through the real app: each writes through the lab service function (its audit rows, by
the user), a role without the authority gets 403 (and sees the form disabled with the reason), a post
without the session's CSRF token is refused, and a bad value answers 422 with one line and writes nothing."""

from __future__ import annotations

import re
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from cgtqc.lab import deviations, instruments, methods, oos, reagents
from cgtqc.lab.records import LAB_AUTHORITY
from cgtqc.store.db import session_scope
from cgtqc.store.models import AuditEntry

from .conftest import LOT, PASSWORD, login, page_csrf
from .test_lab_pages import _lab_records

TODAY = date.today()
NUMBER = f"OOS-{LOT}-01"
CHECKLIST = {
    "calculation": "recalculated: no error",
    "instrument": "PR-01 calibrated",
    "standards": "LAL-3 accepted, in date",
    "method": "followed",
    "analyst": "qualified",
    "sample": "sample tube found open",
}


def _day(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


def lab_audit(url: str) -> list[tuple[str, str, str, str]]:
    """(table, action, field, user) of every audit row of a lab table, oldest first."""
    with session_scope(url) as s:
        q = select(AuditEntry).where(AuditEntry.table_name.like("lab_%")).order_by(AuditEntry.id)
        return [(e.table_name, e.action, e.field or "", e.username) for e in s.execute(q).scalars()]


def post(client, path: str, data: dict, csrf: bool = True):
    return client.post(path, data={**data, **({"csrf_token": page_csrf(client, "/lab")} if csrf else {})})


def test_each_lab_form_writes_through_the_lab_service_and_is_audited(site):
    _lab_records(site.url)  # reader PR-01, LAL-3, the OOS endotoxin result of LOT, a deviation
    with session_scope(site.url) as s:
        methods.add_method_version(s, "quinn", "LAL", "1", "endotoxin", TODAY - timedelta(days=30))
    qa = login(site.app, "quinn")
    forms = [  # path, fields, (table, action, field) of the audit rows it writes
        (
            "/lab/instruments",
            {"code": "FC-02", "name": "Flow cytometer 2", "kind": "flow cytometer"},
            [("lab_instruments", "create", "")],
        ),
        (
            "/lab/calibrations",
            {"code": "FC-02", "on": _day(-1), "due": _day(180)},
            [
                ("lab_instruments", "update", "calibrated_on"),
                ("lab_instruments", "update", "calibration_due"),
            ],
        ),
        (
            "/lab/reagent-lots",
            {"lot_number": "AB-9", "name": "7-AAD", "kind": "reagent", "expires_on": _day(90)},
            [("lab_reagent_lots", "create", "")],
        ),
        (
            "/lab/reagent-status",
            {"lot_number": "AB-9", "status": "accepted", "reason": "incoming check passed"},
            [("lab_reagent_lots", "update", "status"), ("lab_reagent_lots", "update", "status_reason")],
        ),
        (
            "/lab/qualifications",
            {"analyst": "ann", "method_version": "LAL:1", "trained_on": _day(-5), "expires_on": _day(360)},
            [("lab_analyst_qualifications", "create", "")],
        ),
        (
            "/lab/deviations",
            {"title": "freezer alarm", "owner": "ann", "due_on": _day(30), "lot": LOT},
            [("lab_deviations", "create", "")],
        ),
        (
            "/lab/deviation-status",
            {"number": f"DEV-{TODAY.year}-0002", "status": "investigation", "reason": "root cause analysis"},
            [("lab_deviations", "update", "status")],
        ),
        (
            f"/lab/oos/{NUMBER}/phase1",
            {**CHECKLIST, "hypothesis": "contaminated tube"},
            [
                ("lab_oos_investigations", "update", "checklist_json"),
                ("lab_oos_investigations", "update", "hypothesis"),
            ],
        ),
        (
            f"/lab/oos/{NUMBER}/authorise",
            {"retests": "1", "resamples": "", "reason": "retest the retained sample"},
            [
                ("lab_oos_investigations", "update", "retests_authorised"),
                ("lab_oos_investigations", "update", "authorised_by"),
            ],
        ),
        (
            f"/lab/oos/{NUMBER}/phase2",
            {"reason": "no laboratory cause found"},
            [
                ("lab_oos_investigations", "update", "phase"),
                ("lab_oos_investigations", "update", "phase_ii_reason"),
            ],
        ),
        (
            f"/lab/oos/{NUMBER}/phase2-findings",
            {"scope": "batch record, water system", "findings": "WFI loop excursion on the fill day"},
            [
                ("lab_oos_investigations", "update", "phase_ii_scope"),
                ("lab_oos_investigations", "update", "phase_ii_findings"),
            ],
        ),
    ]
    for path, data, rows in forms:
        before = lab_audit(site.url)
        r = post(qa, path, data)
        assert r.status_code == 303 and r.headers["location"].startswith("/lab?done="), (path, r.text)
        assert lab_audit(site.url)[len(before) :] == [(*row, "quinn") for row in rows], path
        assert "flash ok" in qa.get(r.headers["location"]).text
    with session_scope(site.url) as s:
        assert instruments.get_instrument(s, "FC-02").calibration_due.isoformat() == _day(180)
        assert reagents.get_reagent_lot(s, "AB-9").status == "accepted"
        assert deviations.get_deviation(s, f"DEV-{TODAY.year}-0002").status == "investigation"
        inv = oos.get_investigation(s, NUMBER)
        assert oos.missing_checklist(inv) == [] and inv.hypothesis == "contaminated tube"
        assert (inv.retests_authorised, inv.phase, inv.phase_ii_findings) == (
            1,
            "II",
            "WFI loop excursion on the fill day",
        )
    # closing is a signature: the password again; a wrong one writes nothing in the lab tables
    close = {"outcome": "confirmed", "conclusion": "OOS stands", "password": "not-it"}
    before = lab_audit(site.url)
    r = post(qa, f"/lab/oos/{NUMBER}/close", close)
    assert r.status_code == 403 and "wrong user name or password" in r.text
    assert lab_audit(site.url) == before
    r = post(qa, f"/lab/oos/{NUMBER}/close", {**close, "password": PASSWORD})
    assert r.status_code == 303
    added = lab_audit(site.url)[len(before) :]
    assert ("lab_signatures", "create", "", "quinn") in added
    with session_scope(site.url) as s:
        inv = oos.get_investigation(s, NUMBER)
        assert (inv.status, inv.outcome, inv.closed_by) == ("closed", "confirmed", "quinn")


# form -> roles that may post it (LAB_AUTHORITY); an empty form from them answers 422, from others 403
FORMS = {
    "/lab/instruments": {"ann", "rex", "quinn", "admin"},
    "/lab/calibrations": {"ann", "rex", "quinn", "admin"},
    "/lab/reagent-lots": {"ann", "rex", "quinn", "admin"},
    "/lab/reagent-status": {"rex", "quinn"},
    "/lab/qualifications": {"rex", "quinn"},
    "/lab/deviations": {"ann", "rex", "quinn", "admin"},
    "/lab/deviation-status": {"ann", "rex", "quinn", "admin"},
    f"/lab/oos/{NUMBER}/phase1": {"ann", "rex", "quinn"},
    f"/lab/oos/{NUMBER}/authorise": {"rex", "quinn"},
    f"/lab/oos/{NUMBER}/phase2": {"quinn"},
    f"/lab/oos/{NUMBER}/phase2-findings": {"quinn"},
    f"/lab/oos/{NUMBER}/close": {"rex", "quinn"},
}


def test_role_form_matrix_refuses_without_the_authority_and_shows_the_form_disabled(site):
    _lab_records(site.url)
    assert set(LAB_AUTHORITY) == {  # every lab action with a form is in this matrix
        "register_instrument", "calibrate_instrument", "receive_reagent", "accept_reagent", "qualify_analyst",
        "open_deviation", "move_deviation", "oos_phase_i", "oos_authorise", "oos_phase_ii", "oos_close",
    }  # fmt: skip
    anonymous = TestClient(site.app, follow_redirects=False)
    before = lab_audit(site.url)
    wrong = []
    for user in ("ann", "rex", "quinn", "admin"):
        client = login(site.app, user)
        token = page_csrf(client, "/lab")
        for path, allowed in FORMS.items():
            r = client.post(path, data={"csrf_token": token})
            want = 422 if user in allowed else 403
            if r.status_code != want or (want == 403 and "has role" not in r.text):
                wrong.append((path, user, r.status_code))
    for path in FORMS:
        r = anonymous.post(path, data={})
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert not wrong, wrong
    assert lab_audit(site.url) == before
    page = login(site.app, "ann").get("/lab").text  # an analyst: the accept form is disabled, with why
    assert '<fieldset disabled aria-describedby="reagent-status-why">' in page
    assert "ann has role &#39;analyst&#39;; this needs reviewer or qa" in page


def test_a_lab_form_without_the_csrf_token_is_refused(site):
    rex = login(site.app, "rex")
    before = lab_audit(site.url)
    data = {"code": "FC-09", "name": "Flow 9", "kind": "flow cytometer"}
    assert post(rex, "/lab/instruments", data, csrf=False).status_code == 403
    assert post(rex, "/lab/instruments", {**data, "csrf_token": "forged"}, csrf=False).status_code == 403
    assert lab_audit(site.url) == before


def test_a_bad_value_answers_422_with_one_line_and_writes_nothing(site):
    _lab_records(site.url)
    rex = login(site.app, "rex")
    before = lab_audit(site.url)
    bad = [
        ("/lab/calibrations", {"code": "PR-01", "on": _day(-1), "due": "2026-02-30"}, "is not a date"),
        ("/lab/calibrations", {"code": "PR-01", "on": _day(1), "due": _day(-1)}, "is not after"),
        (
            "/lab/reagent-lots",
            {"lot_number": "X-1", "name": "x", "kind": "powder", "expires_on": _day(9)},
            "kind",
        ),
        (
            "/lab/reagent-status",
            {"lot_number": "LAL-3", "status": "accepted", "reason": " "},
            "reason is required",
        ),
        (
            "/lab/deviations",
            {"title": "t", "owner": "ann", "due_on": "soon"},
            "due_on: &#39;soon&#39; is not a date",
        ),
        (f"/lab/oos/{NUMBER}/phase1", {"weather": "rainy"}, "at least one finding"),
        (f"/lab/oos/{NUMBER}/authorise", {"retests": "two", "reason": "r"}, "&#39;two&#39; is not a number"),
    ]
    for path, data, words in bad:
        r = post(rex, path, data)
        assert r.status_code == 422, (path, r.text)
        (line,) = re.findall(r'<p class="flash error" role="alert">([^<]*)</p>', r.text)
        assert words in line and "\n" not in line, (path, line)
    assert lab_audit(site.url) == before


def test_every_lab_form_field_has_a_label(site):
    _lab_records(site.url)
    page = login(site.app, "quinn").get("/lab").text
    ids = re.findall(r'<(?:input|select|textarea) id="([^"]+)"', page)
    labelled = set(re.findall(r'<label for="([^"]+)"', page))
    assert len(ids) > 30 and set(ids) <= labelled
    assert len(ids) == len(set(ids))  # unique ids
