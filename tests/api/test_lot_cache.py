"""The memo of lot pages and lot lists (``store.readcache``, keyed on the audit chain head) on SQLite and
PostgreSQL: after every write path that can change a lot page (lot creation and correction, results entered
and replaced, review, signatures, lab records, OOS investigations, retests, a reagent recall) the next read
answers exactly what an uncached computation answers, and a read with nothing written in between is a hit;
no committed transaction writes a GMP table without appending to the audit trail; an answer computed across
a commit is not kept; the memo is bounded and expires with the day."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import event, select

from cgtqc.api.lots import json_bytes
from cgtqc.lots import queries
from cgtqc.store import audit
from cgtqc.store.db import engine, session_scope
from cgtqc.store.models import Lot, User
from cgtqc.store.readcache import ReadCache

NOT_GMP = {"auth_sessions"}  # server-side login sessions: no GMP record, shown on no page
DML = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)


def _flows(name: str):
    """Another test module of this folder, to run its flows through the checked client (no copy)."""
    spec = importlib.util.spec_from_file_location(f"flows_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class AuditGuard:
    """Engine events: every committed transaction that wrote a GMP table also wrote ``audit_trail``."""

    def __init__(self, url: str) -> None:
        self.engine = engine(url)
        self.unaudited: list[set[str]] = []

    def _statement(self, conn, _cursor, statement, *_args) -> None:
        m = DML.match(statement)
        if m:
            conn.info.setdefault("written", set()).add(m.group(1).lower())

    def _commit(self, conn) -> None:
        written = conn.info.pop("written", set())
        if written - NOT_GMP and "audit_trail" not in written:
            self.unaudited.append(written)

    def _rollback(self, conn) -> None:
        conn.info.pop("written", None)

    def __enter__(self) -> AuditGuard:
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)
        event.listen(self.engine, "rollback", self._rollback)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine, "rollback", self._rollback)


class Checked:
    """Wraps the test client's writes: after each one, the lot list and the page of the lot written to (every
    lot's page after a lab write) read through the API equal the uncached computation, and reading again is a
    memo hit with the same bytes (so the next write starts with the page memoised)."""

    def __init__(self, api, url: str) -> None:
        self.api, self.url = api, url
        self.cache: ReadCache = api.client.app.state.read_cache
        self.writes = 0
        for name in ("post", "patch"):
            setattr(api, name, self._checked(getattr(api, name)))

    def _checked(self, send):
        def call(path: str, user: str = "alice", **kw):
            r = send(path, user, **kw)
            self.writes += 1
            self.check(path, f"after {path} ({r.status_code})")
            return r

        return call

    def _uncached(self, written: str) -> dict[str, bytes | None]:
        lot = re.match(r"/lots/([^/]+)", written)
        with session_scope(self.url) as s:
            lots = [lot.group(1)] if lot else list(s.execute(select(Lot.lot_number)).scalars())
            out = {f"/lots/{n}": json_bytes(queries.lot_detail(s, n)) for n in lots}
            doc = queries.list_lots(s, None, None, None, 100, 0)
            doc["status_counts"] = queries.status_counts(s)
            out["/lots"] = json_bytes(doc)
        return out

    def check(self, written: str, when: str) -> None:
        for path, expected in self._uncached(written).items():
            got = self.api.get(path)
            assert got.status_code == 200, got.text
            if got.content != expected:
                assert json.loads(got.content) == json.loads(expected or b"null"), f"{path} {when}"
                raise AssertionError(f"{path} {when}: same JSON, other bytes")
            hits, front = self.cache.hits, self.cache.front_hits
            assert self.api.get(path).content == expected, f"{path} {when}: second read"
            assert self.cache.hits == hits + 1, f"{path} {when}: the second read was not a memo hit"
            assert self.cache.front_hits == front + 1, f"{path} {when}: not answered by the front (api.front)"


@contextmanager
def checking(api, url: str) -> Iterator[Checked]:
    with AuditGuard(url) as guard:
        yield Checked(api, url)
    assert guard.unaudited == [], "committed writes without an audit entry"


@pytest.fixture
def checked(api, db_url) -> Iterator[Checked]:
    """On SQLite and PostgreSQL."""
    with checking(api, db_url) as c:
        yield c


@pytest.fixture
def sqlite_checked(sqlite_api, sqlite_url) -> Iterator[Checked]:
    """On SQLite only: the memo's key is one query the backends answer alike (the lot flow runs on both)."""
    with checking(sqlite_api, sqlite_url) as c:
        yield c


def test_lot_writes_are_seen_by_the_next_read(checked):
    api = checked.api
    api.create_msc_lot("MSC-1")
    api.create_msc_lot("MSC-2")
    api.enter_all("MSC-1", skip=("viability",))
    ipc = {"cqa": "viability", "stage": "in-process: passage 2 harvest", "value": "pending"}
    assert api.post("/lots/MSC-1/results", data={**ipc, "rationale": "harvest count tomorrow"}).is_success
    assert api.post("/lots/MSC-1/results", data={"cqa": "viability", "value": "91", "unit": "%"}).is_success
    authored = {"meaning": "authored", "password": api.password}
    assert api.post("/lots/MSC-1/signatures", json=authored).status_code == 201
    amend = {"storage": "<= -150 C", "reason": "storage corrected"}
    assert api.patch("/lots/MSC-1", json=amend).status_code == 200  # voids the signature
    again = {"cqa": "viability", "value": "92.0", "unit": "%", "replace_reason": "transcription error"}
    assert api.post("/lots/MSC-1/results", data=again).status_code == 201
    assert api.post("/lots/MSC-1/review", "bob", json={"password": api.password}).status_code == 201
    rejected = {"meaning": "rejected", "password": api.password}
    assert api.post("/lots/MSC-1/signatures", "carol", json=rejected).status_code == 201
    assert api.post("/lots/MSC-2/review", "bob", json={"password": "wrong"}).status_code == 403
    assert checked.writes == 19 and checked.cache.hits > 2 * checked.writes


def test_lab_and_oos_writes_are_seen_by_the_next_read(sqlite_checked):
    lab = _flows("test_lab_api")
    api = sqlite_checked.api
    lab.test_oos_result_opens_an_investigation_and_its_invalidation_makes_the_retest_reportable(api)
    recall = api.post("/reagent-lots/AB-7/recall", "carol", json={"reason": "supplier notice SN-4"})
    assert recall.json()["product_lots"] == ["MSC-9"]
    assert sqlite_checked.writes > 30


def test_an_answer_computed_across_a_commit_is_not_kept(sqlite_url):
    cache = ReadCache()

    def compute_while_someone_writes() -> bytes:
        with session_scope(sqlite_url) as other:
            eve = User(username="eve", full_name="Eve", role="analyst", password_hash="x")
            audit.add(other, eve, "admin")
        return b"computed"

    with session_scope(sqlite_url) as s:
        assert cache.get(s, "k", compute_while_someone_writes) == b"computed"
        assert len(cache) == 0
        assert cache.get(s, "k", lambda: b"again") == b"again"
        assert cache.get(s, "k", lambda: b"not called") == b"again"
        assert cache.get(s, "gone", lambda: None) is None and len(cache) == 1


def test_the_memo_is_bounded_and_expires_with_the_day(sqlite_url):
    day = [date(2026, 1, 1)]
    cache = ReadCache(maxsize=2, today=lambda: day[0])
    with session_scope(sqlite_url) as s:
        for key in ("a", "b", "c"):
            cache.get(s, key, lambda key=key: key.encode())
        assert len(cache) == 2
        assert cache.get(s, "a", lambda: b"a, computed again") == b"a, computed again"  # evicted
        assert cache.get(s, "c", lambda: b"not called") == b"c"
        day[0] = date(2026, 1, 2)
        assert cache.get(s, "c", lambda: b"c, next day") == b"c, next day"
        assert ReadCache(maxsize=0).get(s, "a", lambda: b"off") == b"off"
        small = ReadCache(maxbytes=10)
        small.get(s, "big", lambda: b"x" * 11)
        for key in ("a", "b", "c"):
            small.get(s, key, lambda: b"12345")
        assert len(small) == 2 and small.nbytes == 10  # too big to keep; "a" evicted for the bytes
