"""The memo's front door (``api.front.MemoFront``): it answers a memoised lot list or lot page with the bytes
and headers the app answers, and leaves to the app every request the app must decide (a revoked, idle or
disabled session, a session to touch, a cookie, a query it does not parse as Starlette does, a miss, a
broken connection). The key it builds from a query is the route's, for any query string (hypothesis)."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from tests.api.conftest import make_api

from cgtqc.api.front import MemoFront, request_key
from cgtqc.store.db import engine, session_scope
from cgtqc.store.models import AuthSession, utcnow
from cgtqc.store.readcache import ReadCache
from cgtqc.store.sessions import token_hash
from cgtqc.store.users import disable_user


def _front(app) -> MemoFront:
    layer = app.middleware_stack
    while not isinstance(layer, MemoFront):
        layer = layer.app
    return layer


def _age(url: str, token: str, by: timedelta) -> None:
    """Make the session of ``token`` look idle for ``by`` (login sessions are no GMP record)."""
    with session_scope(url) as s:
        s.execute(
            update(AuthSession).where(AuthSession.id == token_hash(token)).values(last_seen_at=utcnow() - by)
        )


def test_the_front_answers_the_apps_bytes_and_headers(api):
    api.create_msc_lot("MSC-1")
    cache = api.client.app.state.read_cache
    for path in ("/lots/MSC-1", "/lots", "/lots?limit=5&status=open", "/lots?search=MSC&offset=0"):
        computed = api.get(path)
        front = cache.front_hits
        answered = api.get(path)
        assert cache.front_hits == front + 1, path
        assert answered.content == computed.content and answered.status_code == 200
        for header in ("content-type", "content-length"):
            assert answered.headers[header] == computed.headers[header]
    assert api.get("/lots/NOPE").status_code == 404  # an unknown lot is never memoised
    assert api.get("/lots/NOPE").status_code == 404


def test_the_front_leaves_to_the_app_what_the_app_decides(api, db_url):
    api.create_msc_lot("MSC-1")
    cache = api.client.app.state.read_cache
    api.get("/lots/MSC-1")

    def by_front(path: str, user: str = "alice") -> tuple[int, bool]:
        front = cache.front_hits
        r = api.get(path, user)
        return r.status_code, cache.front_hits == front + 1

    assert by_front("/lots/MSC-1") == (200, True)
    for other in ("/lots?limit=5&x=1", "/lots?limit=5&limit=6", "/lots/MSC-1?x=1"):
        assert by_front(other)[1] is False, other
    assert by_front("/lots?limit=%35") == (200, True)  # limit=5, computed above (the route ignores x)
    basic = api.client.get("/api/v1/lots/MSC-1", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401

    _age(db_url, api.token("alice"), timedelta(seconds=45))  # due a touch: the app writes it
    assert by_front("/lots/MSC-1") == (200, False)
    assert by_front("/lots/MSC-1") == (200, True)  # touched: fresh again
    _age(db_url, api.token("alice"), timedelta(minutes=16))  # idle past the timeout: closed
    assert by_front("/lots/MSC-1") == (401, False)

    assert by_front("/lots/MSC-1", "bob") == (200, True)
    assert api.post("/auth/logout", "bob").status_code == 204
    assert by_front("/lots/MSC-1", "bob") == (401, False)

    assert by_front("/lots/MSC-1", "carol") == (200, False)  # the logout is audited: the head moved
    assert by_front("/lots/MSC-1", "carol") == (200, True)
    with session_scope(db_url) as s:
        disable_user(s, "carol", by="admin", reason="left the company")
    assert by_front("/lots/MSC-1", "carol") == (401, False)
    assert by_front("/lots/MSC-1", "dave")[0] == 200  # the write moved the chain head: computed again
    assert by_front("/lots/MSC-1", "dave") == (200, True)


def test_a_broken_connection_hands_over_to_the_app_and_reconnects(sqlite_api):
    api = sqlite_api
    api.create_msc_lot("MSC-1")
    cache = api.client.app.state.read_cache
    api.get("/lots/MSC-1")
    front = _front(api.client.app)
    front._connection().invalidate()  # as a server restart or a dropped socket leaves it
    hits = cache.front_hits
    assert api.get("/lots/MSC-1").status_code == 200 and cache.front_hits == hits
    assert api.get("/lots/MSC-1").status_code == 200 and cache.front_hits == hits + 1


def test_a_front_read_refused_by_a_lock_hands_over_and_keeps_the_pool_waiting(sqlite_api, sqlite_url):
    """Regression: the front's connection (busy timeout 0) went back into the pool after a 'database is
    locked', so the app's next reads failed at once instead of waiting for the writer (seen under load)."""
    api = sqlite_api
    api.create_msc_lot("MSC-1")
    api.get("/lots/MSC-1")
    front = _front(api.client.app)
    writer = sqlite3.connect(
        sqlite_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    writer.execute("BEGIN EXCLUSIVE")  # a writer committing: readers are refused until it ends
    release = threading.Timer(0.5, writer.execute, ("ROLLBACK",))
    release.start()
    hits = api.client.app.state.read_cache.front_hits
    assert api.get("/lots/MSC-1").status_code == 200  # the app waited for the lock
    release.join()
    assert api.client.app.state.read_cache.front_hits == hits and front._conn is None
    pool = [engine(sqlite_url).connect() for _ in range(engine(sqlite_url).pool.size())]
    try:
        assert {c.exec_driver_sql("PRAGMA busy_timeout").scalar() for c in pool} == {30000}
    finally:
        for c in pool:
            c.close()
    assert api.get("/lots/MSC-1").status_code == 200
    assert api.client.app.state.read_cache.front_hits == hits + 1  # the front reconnected


class _KeySpy(ReadCache):
    """A memo that never hits and records the key of every answer the app computes."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list = []

    def at(self, head, key):
        return None

    def get(self, session, key, compute):
        self.keys.append(key)
        return compute()


NAMES = st.sampled_from(["status", "search", "product", "limit", "offset", "other"])
VALUES = st.sampled_from(
    ["", "0", "5", "050", "1000", "1001", "-1", "+5", " 5", "5 ", "\uff15", "1e2", "released", "open"]
    + ["MSC", "a b", "a+b", "%2B", "%20", "\u00fc", "%C3%BC", "%ff", "&", "="]
)


def _query(pairs: list[tuple[str, str]], raw: bool) -> str:
    return "&".join(f"{k}={v if raw else quote(v)}" for k, v in pairs)


def test_the_fronts_key_is_the_routes_key_for_any_query(sqlite_url, tmp_path):
    spy = _KeySpy()
    api = make_api(sqlite_url, tmp_path)
    api.client.app.state.read_cache = spy  # the routes' memo; the front keeps the first, which stays empty
    client, headers = api.client, api.headers("alice")

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(NAMES, VALUES), max_size=4), st.booleans())
    def check(pairs, raw):
        qs = _query(pairs, raw)
        spy.keys.clear()
        r = client.get(f"/api/v1/lots?{qs}", headers=headers)
        ours = request_key("/api/v1/lots", r.request.url.query)  # the bytes the server received
        if r.status_code == 200 and ours is not None:
            assert spy.keys == [ours], qs
        if ours is not None and r.status_code != 200:
            assert r.status_code == 422, qs  # refused by the route: never computed, so never memoised

    check()
