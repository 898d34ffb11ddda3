"""The Lab page's forms through the real app: each writes through the lab service function (its audit rows, by
the user), a role without the authority gets 403 (and sees the form disabled with the reason), a post
without the session's CSRF token is refused, and a bad value answers 422 with one line and writes nothing.
The lot page shows a stored reportable value's computation with the result's lab record."""

from __future__ import annotations

import re
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from cgtqc.lab import deviations, instruments, methods, oos, reagents
from cgtqc.lab.records import LAB_AUTHORITY
from cgtqc.lots.reportable import enter_reportable
from cgtqc.store.db import session_scope
from cgtqc.store.models import AuditEntry

from .conftest import LOT, PASSWORD, csrf_of, login, page_csrf
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
            "/lab/instrument-qualifications",
            {"code": "FC-02", "stage": "oq", "on": _day(-2)},
            [("lab_instruments", "update", "oq_on")],
        ),
        (
            "/lab/maintenance",
            {"code": "FC-02", "on": _day(-1), "due": _day(90)},
            [
                ("lab_instruments", "update", "maintained_on"),
                ("lab_instruments", "update", "maintenance_due"),
            ],
        ),
        (
            "/lab/instrument-status",
            {"code": "FC-02", "status": "out of service", "reason": "laser alignment failed"},
            [("lab_instruments", "update", "status")],
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
        (  # LAL-3 served LOT's endotoxin result
            "/lab/reagent-recalls",
            {"lot_number": "LAL-3", "reason": "supplier notice SN-12"},
            [("lab_reagent_lots", "update", "status"), ("lab_reagent_lots", "update", "status_reason")],
        ),
        (
            "/lab/qualifications",
            {"analyst": "ann", "method_version": "LAL:1", "trained_on": _day(-5), "expires_on": _day(360)},
            [("lab_analyst_qualifications", "create", "")],
        ),
        (
            "/lab/revocations",
            {"analyst": "ann", "method_version": "LAL:1", "reason": "training record lost"},
            [("lab_analyst_qualifications", "update", "revoked")],
        ),
        (  # a new version of LAL: the current one ends that day
            "/lab/method-versions",
            {
                "method": "LAL",
                "version": "2",
                "cqa": "endotoxin",
                "effective_from": _day(-3),
                "validation_report": "VR-LAL-2",
                "max_retests": "2",
                "averaging_allowed": "on",
            },
            [("lab_method_versions", "update", "effective_to"), ("lab_method_versions", "create", "")],
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
        (  # due yesterday: overdue at once; the deviation moves to capa
            "/lab/capa-actions",
            {
                "number": f"DEV-{TODAY.year}-0002",
                "kind": "corrective",
                "description": "replace the freezer probe",
                "owner": "ann",
                "due_on": _day(-1),
            },
            [("lab_capa_actions", "create", ""), ("lab_deviations", "update", "status")],
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

    def submit(client, user: str, path: str, data: dict, rows: list) -> str:
        """Post a form; it must write exactly ``rows`` by ``user``; the page it leads to."""
        before = lab_audit(site.url)
        r = post(client, path, data)
        assert r.status_code == 303 and r.headers["location"].startswith("/lab?done="), (path, r.text)
        assert lab_audit(site.url)[len(before) :] == [(*row, user) for row in rows], path
        page = client.get(r.headers["location"]).text
        assert "flash ok" in page
        return page

    for path, data, rows in forms:
        page = submit(qa, "quinn", path, data, rows)
    # the recall's answer: every result that used LAL-3 and its product lot
    with session_scope(site.url) as s:
        ((used,), _) = reagents.affected(s, reagents.get_reagent_lot(s, "LAL-3"))
    assert "<strong>LAL-3</strong>: 1 result affected, of product lot" in page
    assert f'<td>#{used.id}</td><td><a href="/lots/{LOT}">{LOT}</a></td><td>endotoxin</td>' in page
    # the CAPA action is overdue; its owner marks it done, QA verifies it
    (action,) = re.findall(r'<option value="(\d+)">#\d+ \(open, ann\)', page)
    late = f"<li>CAPA #{action} (ann) due {_day(-1)}</li>"
    assert late in page
    capa = ("lab_capa_actions", "update")
    ann = login(site.app, "ann")
    page = submit(
        ann,
        "ann",
        "/lab/capa-status",
        {"action": action, "status": "done"},
        [(*capa, "status"), (*capa, "done_at")],
    )
    assert late not in page and "No deviation or CAPA action is past its due date." in page
    before = lab_audit(site.url)
    r = post(ann, "/lab/capa-status", {"action": action, "status": "verified"})
    assert r.status_code == 422 and "only QA verifies" in r.text and lab_audit(site.url) == before
    submit(
        qa,
        "quinn",
        "/lab/capa-status",
        {"action": action, "status": "verified", "reason": "probe in use"},
        [(*capa, "status")],
    )
    with session_scope(site.url) as s:
        fc = instruments.get_instrument(s, "FC-02")
        assert (fc.calibration_due.isoformat(), fc.oq_on.isoformat(), fc.maintenance_due.isoformat()) == (
            _day(180),
            _day(-2),
            _day(90),
        )
        assert (
            fc.status == "out of service"
            and instruments.problem(fc, TODAY) == "instrument FC-02 is out of service"
        )
        assert reagents.get_reagent_lot(s, "AB-9").status == "accepted"
        assert [(q.username, q.revoked) for q, _ in methods.qualifications(s)] == [("ann", True)]
        lal = {mv.label: mv for mv in methods.list_method_versions(s)}
        assert lal["LAL:1"].effective_to.isoformat() == _day(-3)
        assert (
            lal["LAL:2"].max_retests,
            lal["LAL:2"].averaging_allowed,
            lal["LAL:2"].outlier_test_allowed,
        ) == (
            2,
            True,
            False,
        )
        dev = deviations.get_deviation(s, f"DEV-{TODAY.year}-0002")
        ((done,),) = [deviations.actions_of(s, dev)]
        assert (dev.status, done.owner, done.status, done.done_at is not None) == (
            "capa",
            "ann",
            "verified",
            True,
        )
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
    "/lab/instrument-qualifications": {"rex", "quinn"},
    "/lab/maintenance": {"ann", "rex", "quinn", "admin"},
    "/lab/instrument-status": {"rex", "quinn", "admin"},
    "/lab/reagent-lots": {"ann", "rex", "quinn", "admin"},
    "/lab/reagent-status": {"rex", "quinn"},
    "/lab/reagent-recalls": {"quinn"},
    "/lab/method-versions": {"quinn"},
    "/lab/qualifications": {"rex", "quinn"},
    "/lab/revocations": {"rex", "quinn"},
    "/lab/deviations": {"ann", "rex", "quinn", "admin"},
    "/lab/deviation-status": {"ann", "rex", "quinn", "admin"},
    "/lab/capa-actions": {"rex", "quinn"},
    "/lab/capa-status": {"ann", "rex", "quinn", "admin"},
    f"/lab/oos/{NUMBER}/phase1": {"ann", "rex", "quinn"},
    f"/lab/oos/{NUMBER}/authorise": {"rex", "quinn"},
    f"/lab/oos/{NUMBER}/phase2": {"quinn"},
    f"/lab/oos/{NUMBER}/phase2-findings": {"quinn"},
    f"/lab/oos/{NUMBER}/close": {"rex", "quinn"},
}


# a page form, whether its fieldset is disabled and the id of the line saying why
PAGE_FORM = re.compile(
    r'<form method="post" action="([^"]+)"[^>]*>\s*<input type="hidden" name="csrf_token" value="[^"]*">\s*'
    r'<fieldset(?: disabled aria-describedby="([^"]+)")?>'
)


def _qualification_and_capa(url: str) -> None:
    """Method version LAL:1, ann qualified on it, and a CAPA action of ann's on the open deviation (so that
    the revocation and CAPA status forms show)."""
    with session_scope(url) as s:
        methods.add_method_version(s, "quinn", "LAL", "1", "endotoxin", TODAY - timedelta(days=30))
        methods.qualify_analyst(
            s, "rex", "ann", "LAL:1", TODAY - timedelta(days=5), TODAY + timedelta(days=300)
        )
        deviations.add_capa(s, "rex", f"DEV-{TODAY.year}-0001", "corrective", "lid alarm", "ann", TODAY)


def test_role_form_matrix_refuses_without_the_authority_and_shows_the_form_disabled(site):
    _lab_records(site.url)
    _qualification_and_capa(site.url)
    assert set(LAB_AUTHORITY) == {  # every lab action with a form is in this matrix
        "register_instrument", "calibrate_instrument", "qualify_instrument", "instrument_status",
        "receive_reagent", "accept_reagent", "recall_reagent", "add_method_version", "qualify_analyst",
        "open_deviation", "move_deviation", "add_capa", "capa_status",
        "oos_phase_i", "oos_authorise", "oos_phase_ii", "oos_close",
    }  # fmt: skip
    anonymous = TestClient(site.app, follow_redirects=False)
    before = lab_audit(site.url)
    wrong = []
    for user in ("ann", "rex", "quinn", "admin"):
        client = login(site.app, user)
        page = client.get("/lab").text
        token = csrf_of(page)
        shown = {path: why for path, why in PAGE_FORM.findall(page)}
        assert set(shown) == set(FORMS) - {f"/lab/oos/{NUMBER}/phase2-findings"}, user  # (phase II's)
        for path, why in shown.items():  # disabled exactly where the role lacks the authority, saying why
            if bool(why) != (user not in FORMS[path]) or (why and f'id="{why}">{user} has role' not in page):
                wrong.append((path, user, "disabled" if why else "enabled"))
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
    _qualification_and_capa(site.url)
    rex, quinn = login(site.app, "rex"), login(site.app, "quinn")
    with session_scope(site.url) as s:
        (action,) = deviations.actions_of(s, deviations.get_deviation(s, f"DEV-{TODAY.year}-0001"))
        action = str(action.id)
    before = lab_audit(site.url)
    method = {
        "method": "LAL",
        "version": "2",
        "cqa": "endotoxin",
        "effective_from": _day(-1),
        "max_retests": "1",
    }
    bad = [
        (
            "/lab/instrument-qualifications",
            {"code": "PR-01", "stage": "dq", "on": _day(-1)},
            "stage &#39;dq&#39;",
        ),
        ("/lab/maintenance", {"code": "PR-01", "on": _day(1), "due": _day(1)}, "maintenance due"),
        ("/lab/instrument-status", {"code": "PR-01", "status": "broken", "reason": "r"}, "is not one of"),
        ("/lab/instrument-status", {"code": "XX-9", "status": "retired", "reason": "r"}, "no instrument"),
        (
            "/lab/revocations",
            {"analyst": "rex", "method_version": "LAL:1", "reason": "r"},
            "not qualified on",
        ),
        (
            "/lab/capa-actions",
            {"number": f"DEV-{TODAY.year}-0001", "kind": "other", "description": "d", "owner": "ann"},
            "due_on: a date is required",
        ),
        (
            "/lab/capa-actions",
            {
                "number": f"DEV-{TODAY.year}-0001",
                "kind": "other",
                "description": "d",
                "owner": "ann",
                "due_on": _day(3),
            },
            "kind &#39;other&#39; is not one of",
        ),
        (
            "/lab/capa-status",
            {"action": "1e3", "status": "done"},
            "&#39;1e3&#39; is not a CAPA action number",
        ),
        ("/lab/capa-status", {"action": "99999", "status": "done"}, "no CAPA action #99999"),
        ("/lab/capa-status", {"action": action, "status": "done"}, "is owned by ann"),  # rex is not its owner
        ("/lab/capa-status", {"action": action, "status": "reopened"}, "status &#39;reopened&#39;"),
        (quinn, "/lab/reagent-recalls", {"lot_number": "LAL-3", "reason": " "}, "reason is required"),
        (quinn, "/lab/reagent-recalls", {"lot_number": "LAL-9", "reason": "r"}, "no reagent lot"),
        (quinn, "/lab/method-versions", {**method, "method": "L:A"}, "without &#39;:&#39;"),
        (quinn, "/lab/method-versions", {**method, "max_retests": "11"}, "max retests up to 10"),
        (quinn, "/lab/method-versions", {**method, "max_retests": ""}, "max retests is required"),
        (quinn, "/lab/method-versions", {**method, "effective_from": _day(-40)}, "must start later"),
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
    for *who, path, data, words in bad:
        r = post(who[0] if who else rex, path, data)
        assert r.status_code == 422, (path, r.text)
        (line,) = re.findall(r'<p class="flash error" role="alert">([^<]*)</p>', r.text)
        assert words in line and "\n" not in line, (path, line)
    assert lab_audit(site.url) == before


def test_every_lab_form_field_has_a_label(site):
    _lab_records(site.url)
    _qualification_and_capa(site.url)
    page = login(site.app, "quinn").get("/lab").text
    ids = re.findall(r'<(?:input|select|textarea) id="([^"]+)"', page)
    labelled = set(re.findall(r'<label for="([^"]+)"', page))
    assert len(ids) > 30 and set(ids) <= labelled
    assert len(ids) == len(set(ids))  # unique ids


def test_lot_page_shows_a_stored_reportable_values_computation(site):
    with session_scope(site.url) as s:
        methods.add_method_version(
            s,
            "quinn",
            "VIA",
            "1",
            "viability",
            TODAY - timedelta(days=30),
            averaging_allowed=True,
            outlier_test_allowed=True,
        )
        methods.qualify_analyst(
            s, "rex", "ann", "VIA:1", TODAY - timedelta(days=5), TODAY + timedelta(days=300)
        )
        values = [92.0, 92.5, 91.8, 92.2, 70.0]
        enter_reportable(
            s, "ann", LOT, "VIA:1", values, average=True, outlier_test=True, replace_reason="replicates"
        )
    html = login(site.app, "rex").get(f"/lots/{LOT}").text
    assert (
        "method VIA:1; reportable value of 5 replicates (92.0, 92.5, 91.8, 92.2, 70.0): Grubbs (alpha 0.05) "
        "excluded 70, used 92.0, 92.5, 91.8, 92.2, excluded 70.0, recorded by ann; original by ann;"
    ) in html
