"""21 CFR Part 11 behaviour through the REST API, as a validator scripts it (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

ROLES = {"analyst": "alice", "reviewer": "bob", "qa": "carol", "admin": "admin"}


def _count(api) -> int:
    return api.get("/audit?limit=1", "carol").json()["total"]


def _newest(api, n: int) -> list[dict]:
    return api.get(f"/audit?limit={n}", "carol").json()["entries"][::-1]


def _is_now(stamp: str) -> bool:
    at = datetime.fromisoformat(stamp.removesuffix("Z")).replace(tzinfo=UTC)
    return abs((datetime.now(UTC) - at).total_seconds()) < 120


def test_every_write_is_one_audit_row_with_user_time_field_old_new_reason(api):
    api.create_msc_lot("MSC-A")  # registers the specification version once
    before = _count(api)
    api.create_msc_lot("MSC-B")
    (e,) = _newest(api, 1)
    assert _count(api) == before + 1
    assert (e["user"], e["action"], e["table"], e["old"]) == ("alice", "create", "lots", None)
    assert json.loads(e["new"])["lot_number"] == "MSC-B" and _is_now(e["at"])

    before = _count(api)
    r = api.post("/lots/MSC-B/results", data={"cqa": "viability", "value": "91", "unit": "%"})
    assert r.status_code == 201
    assert _count(api) == before + 1 and _newest(api, 1)[0]["table"] == "results"

    before = _count(api)
    r = api.patch(
        "/lots/MSC-B", json={"storage": "<= -150 °C", "site": "Geneva", "reason": "label correction"}
    )
    assert r.status_code == 200, r.text
    changes = _newest(api, 2)
    assert _count(api) == before + 2
    assert {(c["field"], c["old"], c["new"]) for c in changes} == {
        ("storage", None, '"<= -150 °C"'),
        ("site", '"Basel"', '"Geneva"'),
    }
    assert all(c["reason"] == "label correction" and c["user"] == "alice" for c in changes)


def test_an_update_without_reason_is_422_and_writes_nothing(api):
    api.create_msc_lot("MSC-R")
    api.post("/lots/MSC-R/results", data={"cqa": "viability", "value": "91", "unit": "%"})
    before = _count(api)
    for body in ({"storage": "x"}, {"storage": "x", "reason": ""}, {"storage": "x", "reason": "   "}):
        r = api.patch("/lots/MSC-R", json=body)
        assert r.status_code == 422 and r.json()["detail"].startswith("reason: "), r.text  # one line
    r = api.post("/lots/MSC-R/results", data={"cqa": "viability", "value": "88", "unit": "%"})
    assert r.status_code == 422 and "give a reason to replace it" in r.json()["detail"]
    r = api.patch("/users/bob", "admin", json={"role": "qa"})
    assert r.status_code == 422
    assert _count(api) == before
    r = api.post(
        "/lots/MSC-R/results",
        data={"cqa": "viability", "value": "88", "unit": "%", "replace_reason": "transcription error"},
    )
    assert r.status_code == 201
    e = _newest(api, 1)[0]
    assert (e["field"], e["old"], e["new"], e["reason"]) == (
        "value",
        '"91.0"',
        '"88.0"',
        "transcription error",
    )


def test_client_sent_timestamps_and_authors_are_ignored(api):
    r = api.post(
        "/lots",
        json={
            "lot_number": "MSC-T",
            "product": "msc",
            "site": "Basel",
            "created_at": "2001-01-01T00:00:00",
            "created_by": "mallory",
            "status": "released",
        },
    )
    assert r.status_code == 201
    lot = r.json()
    assert lot["created_by"] == "alice" and lot["status"] == "open" and _is_now(lot["created_at"])
    r = api.post(
        "/lots/MSC-T/results",
        data={
            "cqa": "viability",
            "value": "91",
            "unit": "%",
            "entered_at": "2001-01-01T00:00:00",
            "entered_by": "x",
        },
    )
    res = next(x for x in r.json()["detail"]["results"] if x["cqa"] == "viability")
    assert res["entered_by"] == "alice" and _is_now(res["entered_at"])
    assert all(_is_now(e["at"]) for e in _newest(api, 3))


def test_grants_are_audited(api):
    r = api.post(
        "/users",
        "admin",
        json={"username": "erin", "full_name": "Erin E", "role": "analyst", "password": "password-456"},
    )
    assert r.status_code == 201, r.text
    e = _newest(api, 1)[0]
    assert e["table"] == "users" and json.loads(e["new"])["role"] == "analyst" and e["user"] == "admin"
    assert "argon2" in json.loads(e["new"])["password_hash"]  # the hash, never the password
    r = api.patch("/users/erin", "admin", json={"role": "reviewer", "reason": "qualified on method M-12"})
    assert r.status_code == 200 and r.json()["role"] == "reviewer"
    e = _newest(api, 1)[0]
    assert (e["user"], e["field"], e["old"], e["new"], e["reason"]) == (
        "admin",
        "role",
        '"analyst"',
        '"reviewer"',
        "qualified on method M-12",
    )


def test_no_route_writes_or_switches_off_the_audit_trail(api):
    paths = api.client.get("/openapi.json").json()["paths"]
    audit_paths = {p: set(ops) for p, ops in paths.items() if "audit" in p}
    assert audit_paths and all(ops == {"get"} for ops in audit_paths.values())
    assert not any("delete" in ops for ops in paths.values())
    assert not any(
        "audit" in json.dumps(op.get("parameters", [])).lower()
        for ops in paths.values()
        for op in ops.values()
    )


@pytest.mark.parametrize("role", ["reviewer", "qa", "admin"])
def test_failed_signature_passwords_count_toward_lockout(sqlite_api, role):
    api = sqlite_api
    user = ROLES[role]
    api.create_msc_lot("MSC-L")
    api.post("/lots/MSC-L/results", data={"cqa": "viability", "value": "91", "unit": "%"})
    for _ in range(5):
        r = api.post("/lots/MSC-L/signatures", user, json={"meaning": "reviewed", "password": "bad"})
        assert r.status_code == 403
    events = [e["event"] for e in api.get(f"/users/security-events?user={user}", "admin").json()]
    if role == "admin":  # the admin has no signing authority: refused before any password check
        assert "login_failed" not in events
    else:
        assert events[0] == "locked" and events.count("login_failed") == 5
        r = api.client.post("/api/v1/auth/token", data={"username": user, "password": api.password})
        assert r.status_code == 401 and "locked" in r.json()["detail"]
