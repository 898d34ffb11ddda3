"""Schemathesis against the OpenAPI schema: generated requests to every operation, authenticated as QA (as
the administrator for user routes), never get a server error (5xx). Bounded: a few examples per operation."""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from cgtqc.server import create_app


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory, sqlite_template):
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copy(sqlite_template, folder / "fuzz.db")
    app = create_app(f"sqlite:///{folder / 'fuzz.db'}", secure_cookies=False, upload_dir=folder / "up")
    client = TestClient(app)
    tokens = {}
    for user in ("carol", "admin", "alice"):
        r = client.post("/api/v1/auth/token", data={"username": user, "password": "password-123"})
        tokens[user] = r.json()["access_token"]
    headers = {"Authorization": f"Bearer {tokens['alice']}"}
    client.post(
        "/api/v1/lots", json={"lot_number": "MSC-1", "product": "msc", "site": "Basel"}, headers=headers
    )
    app.state.fuzz_tokens = tokens
    return app


def test_no_server_error(fuzzed_app):
    tokens = fuzzed_app.state.fuzz_tokens
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    def headers(path: str) -> dict[str, str]:
        user = "admin" if path.startswith("/api/v1/users") else "carol"
        if path == "/api/v1/auth/logout":
            user = "alice"  # fuzzing logout must not log QA out of the other operations
        return {"Authorization": f"Bearer {tokens[user]}"}

    statuses: dict[str, set[int]] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def fuzz(case) -> None:
            r = case.call_and_validate(headers=headers(case.path), checks=[not_a_server_error])
            statuses.setdefault(f"{case.method} {case.path}", set()).add(r.status_code)

        fuzz()
    # the requests were authenticated: every operation but the login was reached past the token check
    unreached = [op for op, codes in statuses.items() if codes == {401} and "auth/token" not in op]
    assert not unreached, unreached
