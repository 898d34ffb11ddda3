"""The server under concurrent writers (PostgreSQL) and bad uploads: no audit entry lost, the chain stays
linear, a file the engine cannot read answers 422 with one line, and the server goes on serving."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import func, select

from cgtqc.server import create_app
from cgtqc.store import audit
from cgtqc.store.db import session_scope
from cgtqc.store.models import AuditEntry, Lot, Result

CLIENTS = 24
RESULTS = (("viability", "91", "%"), ("sterility", "No growth", ""), ("endotoxin", "0.4", "EU/mL"))


@contextmanager
def _client(base: str, user: str) -> Iterator[httpx.Client]:
    """An HTTP client logged in as ``user`` (bearer token)."""
    with httpx.Client(base_url=base, timeout=120) as c:
        r = c.post("/api/v1/auth/token", data={"username": user, "password": "password-123"})
        assert r.status_code == 200, r.text
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield c


def _writer(base: str, k: int, barrier: threading.Barrier, errors: list[str]) -> None:
    try:
        with _client(base, "alice" if k % 2 else "dave") as c:
            barrier.wait(60)
            lot = f"C-{k:02d}"
            r = c.post("/api/v1/lots", json={"lot_number": lot, "product": "msc", "site": "Basel"})
            assert r.status_code == 201, r.text
            for cqa, value, unit in RESULTS:
                r = c.post(f"/api/v1/lots/{lot}/results", data={"cqa": cqa, "value": value, "unit": unit})
                assert r.status_code == 201, r.text
            r = c.patch("/api/v1/lots/SHARED", json={"storage": f"freezer {k}", "reason": f"writer {k}"})
            assert r.status_code == 200, r.text
            # every writer races to enter the shared lot's first viability: one result, the rest refused
            first = {"cqa": "viability", "value": f"{70 + k}", "unit": "%"}
            r = c.post("/api/v1/lots/SHARED/results", data=first)
            assert r.status_code in (201, 422), r.text
            assert r.status_code == 201 or "already has a result" in r.json()["detail"], r.text
    except BaseException as exc:  # noqa: BLE001 - reported by the test thread
        errors.append(f"writer {k}: {exc}")


def test_concurrent_writers_on_postgresql_lose_no_audit_entry(pg_url, tmp_path, serve):
    app = create_app(pg_url, secure_cookies=False, upload_dir=tmp_path / "up")
    with serve(app) as base:
        with _client(base, "alice") as c:
            assert c.post(
                "/api/v1/lots", json={"lot_number": "SHARED", "product": "msc", "site": "B"}
            ).is_success
        with session_scope(pg_url) as s:
            before = s.execute(select(func.count()).select_from(AuditEntry)).scalar()
        barrier = threading.Barrier(CLIENTS)
        errors: list[str] = []
        threads = [threading.Thread(target=_writer, args=(base, k, barrier, errors)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not errors, errors[:3]
        assert httpx.get(f"{base}/healthz").status_code == 200
    with session_scope(pg_url) as s:
        entries = list(s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())
        new = entries[-(len(entries) - before) :]
        logins = CLIENTS  # each client's login is a security event
        assert len(new) == logins + CLIENTS * (1 + len(RESULTS) + 1) + 1  # + the one shared viability
        assert s.execute(select(func.count()).select_from(Result)).scalar() == CLIENTS * len(RESULTS) + 1
        shared = s.execute(select(Lot.id).where(Lot.lot_number == "SHARED")).scalar()
        assert s.execute(select(func.count()).where(Result.lot_id == shared)).scalar() == 1
        assert s.execute(select(func.count()).select_from(Lot)).scalar() == CLIENTS + 1
        # linear: each entry's parent is the one before it, and no two entries share a parent
        assert all(b.prev_hash == a.entry_hash for a, b in zip(entries, entries[1:], strict=False))
        assert len({e.prev_hash for e in entries}) == len(entries)
        assert audit.verify(s) == []
        # the concurrent corrections of one lot: each records the one before it as its old value
        storage = [e for e in new if e.table_name == "lots" and e.field == "storage"]
        assert len(storage) == CLIENTS
        assert storage[0].old_value is None
        assert all(b.old_value == a.new_value for a, b in zip(storage, storage[1:], strict=False))
        final = s.execute(select(Lot.storage).where(Lot.lot_number == "SHARED")).scalar()
        assert json.dumps(final) == storage[-1].new_value


def test_bad_upload_answers_422_with_the_engines_line_and_the_server_keeps_serving(
    sqlite_url, tmp_path, serve
):
    app = create_app(sqlite_url, secure_cookies=False, upload_dir=tmp_path / "up")
    with serve(app) as base, _client(base, "alice") as c:
        assert c.post("/api/v1/lots", json={"lot_number": "M-1", "product": "msc", "site": "B"}).is_success
        before = c.get("/api/v1/audit?limit=1").json()["total"]
        layout = ("files", ("plate_layout.csv", b"Well,Role\nA1,standard\nZZ9,sample\n", "text/csv"))
        bad = [
            ("endotoxin", [("files", ("plate_onset.csv", b"this,is\nnot,a plate\n", "text/csv"))]),
            ("endotoxin", [("files", ("plate_onset.csv", b"\x00\xff\xfe garbage", "text/csv")), layout]),
            ("endotoxin", [("files", ("plate_onset.csv", b"A1,x\nB7,\n", "text/csv")), layout]),
            ("viability", [("files", ("tube.fcs", b"FCS3.1 but truncated", "application/octet-stream"))]),
        ]
        for cqa, files in bad:
            r = c.post("/api/v1/lots/M-1/results", data={"cqa": cqa}, files=files)
            assert r.status_code == 422, r.text
            detail = r.json()["detail"]
            assert isinstance(detail, str) and "\n" not in detail and detail, detail
            assert str(tmp_path) not in detail  # names the uploaded file, not the server's folders
            assert c.get("/healthz").status_code == 200  # still serving
        r = c.post(
            "/api/v1/lots/M-1/results", data={"cqa": "endotoxin", "params": "{not json"}, files=bad[0][1]
        )
        assert r.status_code == 422 and "params" in r.json()["detail"]
        r = c.post("/api/v1/lots/M-1/results", data={"cqa": "karyotype"}, files=bad[0][1])
        assert r.status_code == 422 and "enter the value by hand" in r.json()["detail"]
        assert c.get("/api/v1/audit?limit=1").json()["total"] == before  # nothing half-written
        ok = c.post("/api/v1/lots/M-1/results", data={"cqa": "viability", "value": "91", "unit": "%"})
        assert ok.status_code == 201
        assert c.get("/api/v1/audit/verify").json()["intact"]
