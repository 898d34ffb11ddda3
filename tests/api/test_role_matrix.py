"""The role x route x method matrix: every API operation answers 401 without a token, 403 naming the role to a
role without the authority, and runs for a role that holds it (or is refused by a rule of the record, such as
the separation of duties, never by role). Every route of the schema must be listed here."""

from __future__ import annotations

import itertools

import pytest

from cgtqc.specs import templates

ROLES = {"analyst": "alice", "reviewer": "bob", "qa": "carol", "admin": "admin"}
ALL = set(ROLES)
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
}
PUBLIC = {("post", "/auth/token")}


def _url(path: str, lot: str) -> str:
    return "/api/v1" + path.format(lot_id=lot, product="msc", username="dave")


def test_matrix_covers_every_api_route(sqlite_api):
    paths = sqlite_api.client.get("/openapi.json").json()["paths"]
    ops = {(m, p.removeprefix("/api/v1")) for p, o in paths.items() if p.startswith("/api/v1") for m in o}
    assert ops == set(MATRIX) | PUBLIC


def test_role_route_method_matrix(api):
    api.create_msc_lot("M-LOT", user="dave")
    api.post("/lots/M-LOT/results", "dave", data={"cqa": "viability", "value": "91", "unit": "%"})
    for (method, path), (allowed, request) in MATRIX.items():
        url = _url(path, "M-LOT")
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
