"""The role x route x method matrix: every API operation answers 401 without a token, 403 naming the role to a
role without the authority, and runs for a role that holds it (or is refused by a rule of the record, such as
the separation of duties, never by role). Every route of the schema must be listed here."""

from __future__ import annotations

import itertools

import pytest

from cgtqc.specs import templates

ROLES = {"analyst": "alice", "reviewer": "bob", "qa": "carol", "admin": "admin"}
ALL = set(ROLES)
SUPERVISORS = {"reviewer", "qa"}
_n = itertools.count()


def _spec_yaml() -> str:
    return templates()["msc"].text.replace('version: "1.0"', f'version: "1.{next(_n) + 1}"', 1)


# (method, path) -> (roles allowed, request keywords made fresh per call)
MATRIX = {
    ("get", "/auth/me"): (ALL, dict),
    ("post", "/auth/logout"): (ALL, dict),
    ("get", "/lots"): (ALL, dict),
    ("post", "/lots"): (
        {"analyst", "qa", "admin"},
        lambda: {"json": {"lot_number": f"M-{next(_n)}", "product": "msc", "site": "Basel"}},
    ),
    ("get", "/lots/{lot_id}"): (ALL, dict),
    ("patch", "/lots/{lot_id}"): (
        {"analyst", "qa"},
        lambda: {"json": {"storage": f"s{next(_n)}", "reason": "r"}},
    ),
    ("post", "/lots/{lot_id}/results"): (
        {"analyst", "reviewer", "qa"},
        lambda: {
            "data": {"cqa": "viability", "value": "90", "unit": "%", "replace_reason": f"re-test {next(_n)}"}
        },
    ),
    ("post", "/lots/{lot_id}/review"): ({"reviewer", "qa"}, lambda: {"json": {"password": "password-123"}}),
    ("get", "/lots/{lot_id}/signatures"): (ALL, dict),
    ("post", "/lots/{lot_id}/signatures"): (
        {"qa"},
        lambda: {"json": {"meaning": "rejected", "password": "password-123"}},
    ),
    ("get", "/lots/{lot_id}/signatures/allowed"): (ALL, dict),
    ("get", "/lots/{lot_id}/coa.pdf"): (ALL, dict),
    ("get", "/lots/{lot_id}/audit"): (ALL, dict),
    ("get", "/products"): (ALL, dict),
    ("get", "/specifications/{product}"): (ALL, dict),
    ("post", "/specifications"): (
        {"qa", "admin"},
        lambda: {"content": _spec_yaml(), "headers": {"Content-Type": "text/yaml"}},
    ),
    ("get", "/engines"): (ALL, dict),
    ("get", "/audit"): (ALL, dict),
    ("get", "/audit/verify"): (ALL, dict),
    ("get", "/users"): ({"admin"}, dict),
    ("post", "/users"): (
        {"admin"},
        lambda: {
            "json": {
                "username": f"u{next(_n)}",
                "full_name": "U",
                "role": "analyst",
                "password": "password-9",
            }
        },
    ),
    ("patch", "/users/{username}"): ({"admin"}, lambda: {"json": {"role": "analyst", "reason": "r"}}),
    ("post", "/users/{username}/unlock"): ({"admin"}, lambda: {"json": {"reason": "r"}}),
    ("get", "/users/security-events"): ({"admin"}, dict),
    # the laboratory quality system (issue 15): the lab service functions hold the authority
    ("get", "/instruments"): (ALL, dict),
    ("post", "/instruments"): (
        ALL,
        lambda: {"json": {"code": f"FC-{next(_n)}", "name": "Flow cytometer", "kind": "flow cytometer"}},
    ),
    ("get", "/instruments/{code}"): (ALL, dict),
    ("post", "/instruments/{code}/qualifications"): (
        SUPERVISORS,
        lambda: {"json": {"stage": "iq", "on": "2026-01-05"}},
    ),
    ("post", "/instruments/{code}/calibrations"): (
        ALL,
        lambda: {"json": {"on": "2026-01-05", "due": "2027-01-05"}},
    ),
    ("post", "/instruments/{code}/maintenance"): (
        ALL,
        lambda: {"json": {"on": "2026-01-05", "due": "2027-01-05"}},
    ),
    ("post", "/instruments/{code}/status"): (
        {"reviewer", "qa", "admin"},
        lambda: {"json": {"status": "in service", "reason": "r"}},
    ),
    ("get", "/reagent-lots"): (ALL, dict),
    ("post", "/reagent-lots"): (
        ALL,
        lambda: {"json": {"lot_number": f"RL-{next(_n)}", "name": "7-AAD", "expires_on": "2099-01-01"}},
    ),
    ("get", "/reagent-lots/{lot_number}"): (ALL, dict),
    ("post", "/reagent-lots/{lot_number}/status"): (SUPERVISORS, lambda: {"json": {"status": "accepted"}}),
    ("post", "/reagent-lots/{lot_number}/recall"): ({"qa"}, lambda: {"json": {"reason": "supplier notice"}}),
    ("get", "/method-versions"): (ALL, dict),
    ("post", "/method-versions"): (
        {"qa"},
        lambda: {
            "json": {
                "method": f"M{next(_n)}",
                "version": "1",
                "cqa": "viability",
                "effective_from": "2026-01-01",
            }
        },
    ),
    ("get", "/method-versions/{label}"): (ALL, dict),
    ("get", "/analyst-qualifications"): (ALL, dict),
    ("post", "/analyst-qualifications"): (
        SUPERVISORS,
        lambda: {
            "json": {
                "analyst": "dave",
                "method_version": "VIAB:9",
                "trained_on": "2026-01-01",
                "expires_on": "2099-01-01",
            }
        },
    ),
    ("post", "/analyst-qualifications/revocations"): (
        SUPERVISORS,
        lambda: {"json": {"analyst": "dave", "method_version": "VIAB:9", "reason": "r"}},
    ),
    ("get", "/oos"): (ALL, dict),
    ("get", "/oos/{number}"): (ALL, dict),
    ("post", "/oos/{number}/phase1"): (
        {"analyst", "reviewer", "qa"},
        lambda: {"json": {"findings": {"calculation": "no error"}}},
    ),
    ("post", "/oos/{number}/retests"): (SUPERVISORS, lambda: {"json": {"retests": 1, "reason": "r"}}),
    ("post", "/oos/{number}/resamples"): (SUPERVISORS, lambda: {"json": {"resamples": 1, "reason": "r"}}),
    ("post", "/oos/{number}/phase2"): ({"qa"}, lambda: {"json": {"reason": "r"}}),
    ("post", "/oos/{number}/phase2/findings"): ({"qa"}, lambda: {"json": {"scope": "s", "findings": "f"}}),
    ("post", "/oos/{number}/close"): (
        SUPERVISORS,
        lambda: {"json": {"outcome": "confirmed", "password": "password-123"}},
    ),
    ("get", "/deviations"): (ALL, dict),
    ("post", "/deviations"): (
        ALL,
        lambda: {"json": {"title": f"d{next(_n)}", "owner": "dave", "due_on": "2099-01-01", "lot": "M-LOT"}},
    ),
    ("get", "/deviations/overdue"): (ALL, lambda: {"params": {"on": "2099-06-01"}}),
    ("get", "/deviations/{number}"): (ALL, dict),
    ("post", "/deviations/{number}/status"): (
        ALL,
        lambda: {"json": {"status": "investigation", "reason": "r"}},
    ),
    ("post", "/deviations/{number}/capa"): (
        SUPERVISORS,
        lambda: {
            "json": {"kind": "corrective", "description": "retrain", "owner": "dave", "due_on": "2099-01-01"}
        },
    ),
    ("post", "/capa-actions/{action_id}/status"): (ALL, lambda: {"json": {"status": "done"}}),
    ("post", "/method-versions/{label}/reportable"): (ALL, lambda: {"json": {"values": [90.5]}}),
    ("get", "/reportable-results"): (ALL, lambda: {"params": {"lot": "M-LOT"}}),
    ("post", "/oos/supply"): (
        {"qa"},
        lambda: {
            "json": {
                "lot": "M-LOT",
                "physician": "Dr Weiss",
                "request": "REQ-1",
                "risk_evaluation": "RE-1",
                "authority": "PEI",
                "password": "password-123",
            }
        },
    ),
}
PUBLIC = {("post", "/auth/token")}


LAB = {"code": "FC-M", "lot_number": "RL-M", "label": "VIAB:9", "number": "OOS-M-LOT-01"}


def _url(path: str, lot: str, **lab: str) -> str:
    keys = {**LAB, **lab}
    if path.startswith("/deviations"):  # a deviation's number, not the OOS investigation's
        keys["number"] = keys.pop("deviation", "")
    keys.pop("deviation", None)
    return "/api/v1" + path.format(lot_id=lot, product="msc", username="dave", **keys)


def _lab_records(api) -> dict[str, str]:
    """An instrument, a reagent lot, a method version, an OOS investigation and a deviation for the matrix."""
    inst = {"code": "FC-M", "name": "Flow cytometer", "kind": "flow cytometer"}
    assert api.post("/instruments", "alice", json=inst).status_code == 201
    rl = {"lot_number": "RL-M", "name": "7-AAD", "expires_on": "2099-01-01"}
    assert api.post("/reagent-lots", "alice", json=rl).status_code == 201
    r = api.post("/lots/M-LOT/results", "dave", data={"cqa": "endotoxin", "value": "99", "unit": "EU/mL"})
    assert r.status_code == 201, r.text
    (inv,) = api.get("/oos").json()
    mv = {"method": "VIAB", "version": "9", "cqa": "viability", "effective_from": "2026-01-01"}
    assert api.post("/method-versions", "carol", json=mv).status_code == 201
    dev = {"title": "matrix", "owner": "dave", "due_on": "2099-01-01"}
    r = api.post("/deviations", "alice", json=dev)
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    capa = {"kind": "preventive", "description": "timer", "owner": "dave", "due_on": "2099-01-01"}
    r = api.post(f"/deviations/{number}/capa", "bob", json=capa)
    assert r.status_code == 201, r.text
    action = str(r.json()["capa"][0]["id"])
    return {"number": inv["number"], "deviation": number, "action_id": action}


def test_matrix_covers_every_api_route(sqlite_api):
    paths = sqlite_api.client.get("/openapi.json").json()["paths"]
    ops = {(m, p.removeprefix("/api/v1")) for p, o in paths.items() if p.startswith("/api/v1") for m in o}
    assert ops == set(MATRIX) | PUBLIC


def test_role_route_method_matrix(api):
    api.create_msc_lot("M-LOT", user="dave")
    api.post("/lots/M-LOT/results", "dave", data={"cqa": "viability", "value": "91", "unit": "%"})
    lab = _lab_records(api)
    for (method, path), (allowed, request) in MATRIX.items():
        url = _url(path, "M-LOT", **lab)
        anonymous = api.client.request(method.upper(), url, **request())
        assert anonymous.status_code == 401, (method, path)
        for role, user in ROLES.items():
            kw = request()
            headers = {**kw.pop("headers", {}), "Authorization": f"Bearer {api.token(user)}"}
            r = api.client.request(method.upper(), url, headers=headers, **kw)
            if role in allowed:  # it runs, or a rule of the record refuses (separation of duties, state)
                refused_by_role = r.status_code == 403 and "has role" in r.text
                assert r.status_code != 401 and not refused_by_role, (method, path, role, r.text)
                assert r.status_code < 500, (method, path, role, r.text)
            else:
                assert r.status_code == 403 and "has role" in r.text, (method, path, role, r.text)
            if path == "/auth/logout":
                api.tokens.pop(user)  # logged out: the next request logs in again


@pytest.mark.parametrize(
    "meaning,allowed",
    [("authored", {"analyst", "qa"}), ("approved", {"qa"}), ("reviewed", {"reviewer", "qa"})],
)
def test_signature_meanings_need_their_role(sqlite_api, meaning, allowed):
    api = sqlite_api
    api.create_msc_lot("M-S", user="dave")
    for role, user in ROLES.items():
        r = api.post("/lots/M-S/signatures", user, json={"meaning": meaning, "password": api.password})
        may = api.get(f"/lots/M-S/signatures/allowed?meaning={meaning}", user).json()
        if role not in allowed:
            assert r.status_code == 403 and not may["allowed"] and "role" in may["reason"]
        else:  # the role may, but this lot refuses for another reason (no results of theirs, none to review)
            assert r.status_code in (403, 409) and "role" not in r.json()["detail"]
