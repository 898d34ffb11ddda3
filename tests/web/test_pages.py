"""The pages through the real app without a browser: CSRF, cookies, sessions, the role x route matrix
(HTMX fragments included), result entry and a page-read timing smoke check."""

from __future__ import annotations

import json
import statistics
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cgtqc.lots import service
from cgtqc.server import create_app
from cgtqc.store import audit
from cgtqc.store.db import session_scope
from cgtqc.store.models import AuditEntry, Lot, Result

from .conftest import EMPTY, LOT, PASSWORD, csrf_of, endotoxin_files, login, page_csrf

ANALYST, REVIEWER, QA, ADMIN = "ana", "rex", "quinn", "admin"
HX = {"HX-Request": "true"}


def audit_rows(url: str) -> int:
    with session_scope(url) as s:
        return s.execute(select(func.count()).select_from(AuditEntry)).scalar()


def manual(
    cqa: str = "endotoxin", value: str = "0.2", reason: str = "reader export lost; value from the log"
):
    return {"cqa": cqa, "stage": "release", "value": value, "unit": "EU/mL", "reason": reason}


# ---- CSRF ------------------------------------------------------------------------------------------------


def test_a_write_without_the_sessions_csrf_token_is_refused_and_writes_nothing(site):
    ana = login(site.app, ANALYST)
    token = page_csrf(ana)
    other = page_csrf(login(site.app, REVIEWER))  # a valid token, of another user's session
    before = audit_rows(site.url)
    assert ana.post(f"/lots/{LOT}/results", data=manual()).status_code == 403
    assert ana.post(f"/lots/{LOT}/results", data={**manual(), "csrf_token": "forged"}).status_code == 403
    assert ana.post(f"/lots/{LOT}/results", data={**manual(), "csrf_token": other}).status_code == 403
    assert audit_rows(site.url) == before
    r = ana.post(f"/lots/{LOT}/results", data={**manual(), "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=result")
    # HTMX sends the token in a header instead of the form
    r = ana.post(
        f"/lots/{LOT}/results",
        data={**manual(value="0.3", reason="re-read")},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?done=replaced")


def test_logout_and_login_forms_are_csrf_protected(site):
    ana = login(site.app, ANALYST)
    assert ana.post("/logout").status_code == 403
    assert ana.get("/lots").status_code == 200  # still logged in
    fresh = TestClient(site.app, follow_redirects=False)
    r = fresh.post("/login", data={"username": ANALYST, "password": PASSWORD, "csrf_token": "guess"})
    assert r.status_code == 403 and "cgtqc_session" not in r.headers.get("set-cookie", "")


def test_logout_revokes_the_session(site):
    ana = login(site.app, ANALYST)
    cookie = ana.cookies.get("cgtqc_session")
    r = ana.post("/logout", data={"csrf_token": page_csrf(ana)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    replay = TestClient(site.app, follow_redirects=False, cookies={"cgtqc_session": cookie})
    assert replay.get("/lots").status_code == 303  # the stolen cookie is dead


# ---- cookies and sessions --------------------------------------------------------------------------------


def test_session_cookie_is_secure_httponly_samesite(site):
    app = create_app(site.url, secure_cookies=True, upload_dir=site.upload_dir)
    client = login(app, ANALYST, base_url="https://testserver")
    page = client.get("/lots")
    assert page.status_code == 200
    r = TestClient(app, base_url="https://testserver", follow_redirects=False)
    form = r.get("/login")
    assert "Secure" in form.headers["set-cookie"] and "HttpOnly" in form.headers["set-cookie"]
    done = r.post(
        "/login", data={"username": ANALYST, "password": PASSWORD, "csrf_token": csrf_of(form.text)}
    )
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("cgtqc_session="))
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=strict" in cookie
    # the test servers' flag: plain http on 127.0.0.1
    plain = TestClient(site.app, follow_redirects=False)
    form = plain.get("/login")
    done = plain.post(
        "/login", data={"username": ANALYST, "password": PASSWORD, "csrf_token": csrf_of(form.text)}
    )
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("cgtqc_session="))
    assert "Secure" not in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_idle_session_is_closed(site):
    app = create_app(
        site.url, secure_cookies=False, idle_timeout=timedelta(seconds=1), upload_dir=site.upload_dir
    )
    ana = login(app, ANALYST)
    assert ana.get("/lots").status_code == 200
    time.sleep(1.5)
    r = ana.get("/lots")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_wrong_password_and_lockout_are_told_on_the_form(site):
    client = TestClient(site.app, follow_redirects=False)
    for _ in range(5):
        form = client.get("/login")
        r = client.post(
            "/login", data={"username": ANALYST, "password": "nope", "csrf_token": csrf_of(form.text)}
        )
        assert r.status_code == 401 and "wrong user name or password" in r.text
    form = client.get("/login")
    r = client.post(
        "/login", data={"username": ANALYST, "password": PASSWORD, "csrf_token": csrf_of(form.text)}
    )
    assert r.status_code == 401 and "is locked" in r.text


def test_login_goes_back_only_to_a_local_page(site):
    client = TestClient(site.app, follow_redirects=False)
    for target, expected in [
        (f"/lots/{LOT}", f"/lots/{LOT}"),
        ("//evil.example/x", "/lots"),
        ("https://evil.example", "/lots"),
    ]:
        form = client.get("/login")
        r = client.post(
            "/login",
            data={
                "username": ANALYST,
                "password": PASSWORD,
                "csrf_token": csrf_of(form.text),
                "next": target,
            },
        )
        assert r.headers["location"] == expected
        client.cookies.clear()


def test_pages_send_security_headers(site):
    r = login(site.app, ANALYST).get(f"/lots/{LOT}")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"


# ---- role x route x method matrix -----------------------------------------------------------------------

ROLES = ("anonymous", ANALYST, REVIEWER, QA, ADMIN)
# (method, path, HTMX?, form) -> status for anonymous, analyst, reviewer, qa, admin
MATRIX = [
    ("GET", "/lots", False, None, (303, 200, 200, 200, 200)),
    ("GET", f"/lots/{LOT}", False, None, (303, 200, 200, 200, 200)),
    ("GET", f"/lots/{LOT}/sign?meaning=released", False, None, (303, 200, 200, 200, 200)),
    ("GET", "/specs", False, None, (303, 200, 200, 200, 200)),
    ("GET", "/specs/car_t", False, None, (303, 200, 200, 200, 200)),
    ("GET", f"/audit?lot={LOT}", False, None, (303, 200, 200, 200, 200)),
    ("GET", "/users", False, None, (303, 403, 403, 403, 200)),
    ("GET", "/lab", False, None, (303, 200, 200, 200, 200)),
    ("GET", "/fragments/lot-rows?status=open", True, None, (401, 200, 200, 200, 200)),
    ("GET", f"/fragments/lots/{LOT}/results", True, None, (401, 200, 200, 200, 200)),
    ("GET", "/fragments/audit-rows?table=lots", True, None, (401, 200, 200, 200, 200)),
    ("GET", "/fragments/engine-params?engine=endotoxin&key=1", True, None, (401, 200, 200, 200, 200)),
    ("GET", f"/fragments/lots/{LOT}/plots", True, None, (401, 200, 200, 200, 200)),
    ("GET", f"/audit?user={ANALYST}&since=2020-01-01", False, None, (303, 200, 200, 200, 200)),
    ("GET", "/fragments/audit-rows?table=lots&before=1", True, None, (401, 200, 200, 200, 200)),
    # a plot of a result that has none (the lot's results are manual values)
    ("GET", f"/lots/{LOT}/plots/1/ddpcr/A01.png", False, None, (303, 404, 404, 404, 404)),
    # writes that the role may do answer 409/422 here (the lot is empty, the form incomplete), so the matrix
    # changes nothing; the ones it may not do answer 403 before anything is looked at
    (
        "POST",
        f"/lots/{EMPTY}/results",
        False,
        {"cqa": "endotoxin", "value": "", "reason": ""},
        (303, 422, 422, 422, 403),
    ),
    ("POST", f"/lots/{EMPTY}/review", False, {"password": PASSWORD}, (303, 403, 409, 409, 403)),
    (
        "POST",
        f"/lots/{EMPTY}/sign",
        False,
        {"meaning": "released", "password": PASSWORD},
        (303, 403, 403, 409, 403),
    ),
    (
        "POST",
        "/users",
        False,
        {"username": "x", "full_name": "X", "role": "", "password": "p"},
        (303, 403, 403, 403, 422),
    ),
    ("POST", "/users/ann/role", False, {"role": "reviewer", "reason": ""}, (303, 403, 403, 403, 422)),
    ("POST", "/users/ann/disable", False, {"reason": ""}, (303, 403, 403, 403, 422)),
    ("POST", "/users/ann/unlock", False, {"reason": "x"}, (303, 403, 403, 403, 422)),  # not locked
    ("POST", "/users/ann/password", False, {"new_password": "short"}, (303, 403, 403, 403, 422)),
]


def test_role_route_matrix_answers_as_designed_and_refusals_write_nothing(site):
    clients = {"anonymous": TestClient(site.app, follow_redirects=False)}
    tokens = {"anonymous": ""}
    for user in ROLES[1:]:
        clients[user] = login(site.app, user)
        tokens[user] = page_csrf(clients[user])
    before = audit_rows(site.url)
    seen = []
    for method, path, hx, form, expected in MATRIX:
        for role, want in zip(ROLES, expected, strict=True):
            headers = HX if hx else {}
            if method == "GET":
                r = clients[role].get(path, headers=headers)
            else:
                r = clients[role].post(path, data={**form, "csrf_token": tokens[role]}, headers=headers)
            seen.append((method, path, role, r.status_code, want))
            if hx and want == 401:
                assert r.headers.get("hx-redirect") == "/login"
            if hx and want == 200:
                assert "<html" not in r.text  # a fragment, not a page
    wrong = [s for s in seen if s[3] != s[4]]
    assert not wrong, wrong
    assert audit_rows(site.url) == before


def test_fragment_filters(site):
    ana = login(site.app, ANALYST)
    rows = ana.get("/fragments/lot-rows?q=cart", headers=HX).text
    assert LOT in rows and EMPTY not in rows
    assert "No lot matches" in ana.get("/fragments/lot-rows?status=released", headers=HX).text
    audit = ana.get(f"/fragments/audit-rows?lot={LOT}&table=results", headers=HX).text
    assert "results #" in audit and "lots #" not in audit


# ---- result entry ----------------------------------------------------------------------------------------


def test_manual_value_needs_its_reason_and_a_change_voids_signatures(site):
    ana = login(site.app, ANALYST)
    token = page_csrf(ana)
    before = audit_rows(site.url)
    r = ana.post(f"/lots/{LOT}/results", data={**manual(reason=""), "csrf_token": token})
    assert r.status_code == 422 and "reason" in r.text
    assert audit_rows(site.url) == before
    sent = {**manual(), "csrf_token": token, "entered_at": "2000-01-01T00:00:00", "entered_by": "quinn"}
    assert ana.post(f"/lots/{LOT}/results", data=sent).status_code == 303
    page = ana.get(f"/lots/{LOT}").text
    assert "reader export lost" in page  # the reason is in the result's provenance, on the page
    with session_scope(site.url) as s:
        r = service.current_results(service.get_lot(s, LOT))[("endotoxin", "release")]
        assert r.value == "0.2" and r.entered_by == ANALYST  # the session's user, not a form field
        assert r.entered_at.year > 2000  # the server's clock, never the client's


def test_a_file_the_engine_cannot_read_is_one_line_422_and_nothing_is_stored(site, tmp_path):
    ana = login(site.app, ANALYST)
    bad = tmp_path / "LOT_endotoxin_onset.csv"
    bad.write_text("this is not a plate export\n")
    r = ana.post(
        f"/lots/{LOT}/results",
        data={"cqa": "endotoxin", "stage": "release", "engine": "endotoxin", "csrf_token": page_csrf(ana)},
        files=[("files", (bad.name, bad.read_bytes(), "text/csv"))],
    )
    assert r.status_code == 422
    assert r.text.count('class="flash error"') == 1
    with session_scope(site.url) as s:
        lot = service.get_lot(s, LOT)
        assert (
            s.execute(select(Result).where(Result.lot_id == lot.id, Result.cqa == "endotoxin")).first()
            is None
        )
    assert ana.get(f"/lots/{LOT}").status_code == 200  # still serving


def test_upload_runs_the_engine_and_shows_its_plot(site, tmp_path):
    ana = login(site.app, ANALYST)
    files = endotoxin_files(tmp_path / "plate")
    r = ana.post(
        f"/lots/{LOT}/results",
        data={"cqa": "endotoxin", "stage": "release", "csrf_token": page_csrf(ana)},
        files=[("files", (f.name, f.read_bytes(), "text/csv")) for f in files],
    )
    assert r.status_code == 303, r.text
    page = ana.get(f"/lots/{LOT}").text
    assert 'src="data:image/png;base64,' in page
    assert any(f.name in page for f in files)  # provenance names the uploaded files (and their SHA-256)
    kept = list(site.upload_dir.rglob("*.csv"))
    assert {p.name for p in kept} >= {f.name for f in files}


# ---- assets and speed ------------------------------------------------------------------------------------


def test_pages_work_without_htmx(site, monkeypatch, tmp_path):
    ana = login(site.app, ANALYST)
    monkeypatch.setenv("CGTQC_HTMX", str(tmp_path / "absent.js"))
    page = ana.get("/lots").text
    assert "htmx.min.js" not in page and '<form class="filters" method="get" action="/lots"' in page
    assert ana.get("/static/htmx.min.js").status_code == 404
    fake = tmp_path / "htmx.min.js"
    fake.write_text("/* htmx */")
    monkeypatch.setenv("CGTQC_HTMX", str(fake))
    assert '<script src="/static/htmx.min.js"' in ana.get("/lots").text
    assert ana.get("/static/htmx.min.js").text == "/* htmx */"


@pytest.fixture
def thousand_lots(site):
    """1,000 more lots, each written with its audit entry (the store's audited insert; the lot service's
    specification check per lot would only make the set-up slower)."""
    with session_scope(site.url) as s:
        version = service.get_lot(s, EMPTY).spec_version
        for i in range(1000):
            lot = Lot(
                lot_number=f"AAV-{i + 2:04d}",
                product="aav",
                spec_version=version,
                site="Basel",
                created_by="ann",
            )
            audit.add(s, lot, "ann", reason="lot created")
    return site


def test_page_reads_are_fast_with_a_thousand_lots(thousand_lots, capsys):
    """A smoke check (benchmarks/ measures load under concurrency): single-client page reads."""
    ana = login(thousand_lots.app, ANALYST)
    timings: dict[str, list[float]] = {}
    for path in ("/lots", "/lots?q=AAV-05", f"/lots/{LOT}", "/fragments/lot-rows?status=open"):
        ana.get(path)  # warm
        for _ in range(15):
            t = time.perf_counter()
            assert ana.get(path, headers=HX if "fragments" in path else {}).status_code == 200
            timings.setdefault(path, []).append((time.perf_counter() - t) * 1000)
    with capsys.disabled():
        for path, ms in timings.items():
            print(
                f"\n  {path}: median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms (1,001 lots)",
                end="",
            )
    for path, ms in timings.items():
        assert statistics.median(ms) < 250, (path, ms)


def test_user_admin_through_the_pages_is_audited_and_closes_sessions(site):
    admin = login(site.app, ADMIN)
    token = page_csrf(admin, "/users")
    r = admin.post(
        "/users",
        data={
            "username": "val",
            "full_name": "Val Analyst",
            "role": "analyst",
            "password": "val-pass-123",
            "csrf_token": token,
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/users?done=added"
    val = login(site.app, "val", "val-pass-123")
    assert val.get("/lots").status_code == 200
    r = admin.post(
        "/users/val/role", data={"role": "reviewer", "reason": "moved to QC review", "csrf_token": token}
    )
    assert r.status_code == 303
    assert val.get("/lots").status_code == 303  # the grant closed val's session
    trail = admin.get("/audit?table=users").text
    assert "moved to QC review" in trail and "analyst" in trail and "reviewer" in trail  # old and new value
    # lockout after failed logins, then an audited unlock with its reason
    for _ in range(5):
        client = TestClient(site.app, follow_redirects=False)
        form = client.get("/login")
        client.post("/login", data={"username": "val", "password": "wrong", "csrf_token": csrf_of(form.text)})
    assert "locked until" in admin.get("/users").text
    r = admin.post("/users/val/unlock", data={"reason": "", "csrf_token": token})
    assert r.status_code == 422 and "reason is required" in r.text
    r = admin.post("/users/val/unlock", data={"reason": "called the help desk", "csrf_token": token})
    assert r.status_code == 303
    assert login(site.app, "val", "val-pass-123").get("/lots").status_code == 200
    r = admin.post("/users/val/disable", data={"reason": "left the company", "csrf_token": token})
    assert r.status_code == 303 and "disabled" in admin.get("/users").text


def test_unknown_lot_is_404_on_pages_and_fragments(site):
    ana = login(site.app, ANALYST)
    assert ana.get("/lots/NOPE-1").status_code == 404
    r = ana.get("/fragments/lots/NOPE-1/results", headers=HX)
    assert r.status_code == 404 and "<html" not in r.text and "no lot" in r.text


def test_release_through_the_pages_on_postgresql(postgres_url, tmp_path):
    """The same pages on a real PostgreSQL server: enter, review, sign, certificate, audit chain intact."""
    import uuid

    from sqlalchemy import create_engine, text

    name = f"web_{uuid.uuid4().hex[:10]}"
    admin_engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    admin_engine.dispose()
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    from .conftest import seed

    seed(url)
    app = create_app(url, secure_cookies=False, upload_dir=tmp_path / "uploads")
    ana, rex, quinn = login(app, ANALYST), login(app, REVIEWER), login(app, QA)
    r = ana.post(f"/lots/{LOT}/results", data={**manual(value="0.1"), "csrf_token": page_csrf(ana)})
    assert r.status_code == 303
    r = rex.post(f"/lots/{LOT}/review", data={"password": PASSWORD, "csrf_token": page_csrf(rex)})
    assert r.status_code == 303, r.text
    r = quinn.post(
        f"/lots/{LOT}/sign",
        data={"meaning": "released", "password": PASSWORD, "csrf_token": page_csrf(quinn)},
    )
    assert r.status_code == 303, r.text
    assert 'class="status released"' in quinn.get(f"/lots/{LOT}").text
    assert quinn.get(f"/lots/{LOT}/coa.pdf").content.startswith(b"%PDF")
    assert "Audit trail intact" in quinn.get("/audit?verify=1").text


def test_what_users_typed_is_escaped_on_the_pages(site):
    ana = login(site.app, ANALYST)
    evil = "<script>alert(1)</script>"
    r = ana.post(f"/lots/{LOT}/results", data={**manual(reason=evil), "csrf_token": page_csrf(ana)})
    assert r.status_code == 303
    for path in (f"/lots/{LOT}", f"/audit?lot={LOT}&table=results"):
        page = ana.get(path).text
        assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path


def test_engine_parameter_fields_come_from_the_engines_model(site, tmp_path):
    ana = login(site.app, ANALYST)
    frag = ana.get("/fragments/engine-params?engine=ddpcr&key=3", headers=HX).text
    assert '<select id="p-3-application" name="param.application"' in frag and "<option>vcn</option>" in frag
    assert 'name="param.min_droplets" placeholder="10000"' in frag and "<html" not in frag
    assert ana.get("/fragments/engine-params?engine=nope", headers=HX).status_code == 422
    files = endotoxin_files(tmp_path / "plate")
    form = {"cqa": "endotoxin", "stage": "release", "engine": "endotoxin", "csrf_token": page_csrf(ana)}
    upload = [("files", (f.name, f.read_bytes(), "text/csv")) for f in files]
    r = ana.post(f"/lots/{LOT}/results", data={**form, "param.min_abs_r": "very"}, files=upload)
    assert r.status_code == 422 and "min_abs_r" in r.text  # the engine's model refuses it, one line
    r = ana.post(
        f"/lots/{LOT}/results",
        data={**form, "param.min_abs_r": "0.99", "param.route": "parenteral", "param.bogus": "1"},
        files=upload,
    )
    assert r.status_code == 422 and "no parameter &#39;bogus&#39;" in r.text
    r = ana.post(
        f"/lots/{LOT}/results",
        data={**form, "param.min_abs_r": "0.99", "params": '{"min_standards": 4}'},
        files=upload,
    )
    assert r.status_code == 303, r.text
    with session_scope(site.url) as s:
        row = service.current_results(service.get_lot(s, LOT))[("endotoxin", "release")]
        used = json.loads(row.provenance_json)["parameters"]
    assert used["min_abs_r"] == 0.99 and used["min_standards"] == 4  # fields and JSON, typed by the model


def test_the_lot_page_is_memoised_per_session_and_computed_again_after_a_write(site):
    cache = site.app.state.read_cache
    ana, rex = login(site.app, ANALYST), login(site.app, REVIEWER)
    first = ana.get(f"/lots/{LOT}")
    hits = cache.hits
    again = ana.get(f"/lots/{LOT}")
    assert cache.hits == hits + 1 and again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    for header in ("x-frame-options", "content-security-policy", "cache-control"):
        assert again.headers.get(header) == first.headers.get(header), header
    other = rex.get(f"/lots/{LOT}")  # another session: its own page (name, CSRF token, authority)
    assert cache.hits == hits + 1 and csrf_of(other.text) != csrf_of(first.text)
    sent = {**manual(), "csrf_token": csrf_of(first.text)}
    assert ana.post(f"/lots/{LOT}/results", data=sent).status_code == 303
    after = ana.get(f"/lots/{LOT}")
    assert cache.hits == hits + 1 and "reader export lost" in after.text  # computed again
    memoised = ana.get(f"/lots/{LOT}").text
    assert cache.hits == hits + 2
    uncached = login(create_app(site.url, secure_cookies=False, read_cache=0), ANALYST)
    page = uncached.get(f"/lots/{LOT}").text  # computed, in a session of its own
    assert page.replace(csrf_of(page), "CSRF") == memoised.replace(csrf_of(memoised), "CSRF")
