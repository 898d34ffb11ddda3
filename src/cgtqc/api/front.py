"""The memo's front door: a memoised lot list or lot page answered before the framework runs.

A read of ``GET /api/v1/lots`` or ``GET /api/v1/lots/{lot}`` with a bearer token costs, memoised, about a
millisecond of server CPU through FastAPI (routing, dependencies, a worker thread, two transactions: the
token, then the memo key). This pure ASGI middleware answers the same bytes for a fraction of that: one
statement on a connection of its own reads the token's session, its user and the head of the audit chain
together (one snapshot), and when the session stands as it is (:func:`cgtqc.store.sessions.standing` is
``fresh``: nothing to write), the role may read, and the memo holds the answer at that head, it sends it.

Anything else goes on to the app unchanged, which decides, computes and fills the memo: no token or a
cookie, a session to touch or expire, an unknown or repeated query parameter, a miss, any database error
(the connection is dropped and opened again on the next request). So the front never answers what the app
would not: the memo holds only answers the app computed for the same key at the same chain head, and the
front's key is built by the same functions (:func:`list_key`, :func:`lot_key`) from the query as Starlette
parses it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, MutableMapping
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import Connection, Engine, select, true

from cgtqc.store import sessions
from cgtqc.store.models import AuditEntry, AuthSession, User, utcnow
from cgtqc.store.readcache import ReadCache

LIST_PATH = "/api/v1/lots"
DEFAULT_LIMIT = 100  # the lot list's page size when the query names none (the route's default too)
_LIST_PARAMS = ("status", "search", "product", "limit", "offset")

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def list_key(
    status: str | None, search: str | None, product: str | None, limit: int, offset: int
) -> tuple[Hashable, ...]:
    """The memo key of a lot list page (the route and the front build it alike)."""
    return ("lots", status, search, product, limit, offset)


def lot_key(lot_id: str) -> tuple[Hashable, ...]:
    """The memo key of a lot page."""
    return ("lot", lot_id)


def _count(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 10 else None


def request_key(path: str, query_string: bytes) -> tuple[Hashable, ...] | None:
    """The memo key of a GET of ``path?query_string`` as the routes would build it, or None when the front
    leaves the request to the app (another path, an unknown, repeated or non-decimal parameter)."""
    if path == LIST_PATH:
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)  # as Starlette parses it
        params = dict(pairs)
        if len(params) != len(pairs) or not params.keys() <= set(_LIST_PARAMS):
            return None
        limit = _count(params.get("limit", str(DEFAULT_LIMIT)))
        offset = _count(params.get("offset", "0"))
        if limit is None or offset is None:
            return None
        return list_key(params.get("status"), params.get("search"), params.get("product"), limit, offset)
    if path.startswith(LIST_PATH + "/") and not query_string:
        lot = path[len(LIST_PATH) + 1 :]
        return lot_key(lot) if lot and "/" not in lot else None
    return None


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    token = None
    for name, value in headers:
        if name == b"authorization":
            if token is not None:
                return None  # two: the app decides
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return None
    return token.strip() if token else None


_HEAD = select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1).subquery()
_STANDING = (  # the token's session, its user and the chain head: one statement, one snapshot
    select(
        AuthSession.revoked,
        AuthSession.kind,
        AuthSession.last_seen_at,
        User.active,
        User.role,
        _HEAD.c.id,
        _HEAD.c.entry_hash,
    )
    .select_from(AuthSession)
    .outerjoin(User, User.username == AuthSession.username)
    .join(_HEAD, true())
)


class MemoFront:
    """Pure ASGI middleware answering memoised lot lists and lot pages (see the module's docstring)."""

    def __init__(self, app: ASGIApp, engine: Engine, cache: ReadCache, idle_timeout: timedelta) -> None:
        self.app = app
        self.engine = engine
        self.cache = cache
        self.idle_timeout = idle_timeout
        self._conn: Connection | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and self.cache.maxsize > 0:
            key = request_key(scope["path"], scope["query_string"])
            token = _bearer(scope["headers"]) if key is not None else None
            body = self._answer(token, key) if token else None
            if body is not None:
                headers = [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json"),
                ]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                self.cache.front_hits += 1
                return
        await self.app(scope, receive, send)

    def _answer(self, token: str, key: tuple[Hashable, ...] | None) -> bytes | None:
        """The memoised answer for a fresh reader's session, else None; on the event loop's thread: the one
        statement is a primary-key read that waits on no lock (PostgreSQL) or gives up at once (SQLite)."""
        try:
            row = (
                self._connection()
                .execute(_STANDING.where(AuthSession.id == sessions.token_hash(token)))
                .first()
            )
        except Exception:  # noqa: BLE001 - any failure: drop the connection, let the app answer
            self.close()
            return None
        if row is None or not sessions.can(row.role, "read"):
            return None
        state = sessions.standing(
            row.revoked, row.kind, row.last_seen_at, row.active, "bearer", self.idle_timeout, utcnow()
        )
        return self.cache.at((row.id, row.entry_hash), key) if state == "fresh" else None

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA busy_timeout = 0")  # a writer's lock: hand over, do not wait
            elif self.engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET statement_timeout = 250")
            self._conn = conn
        return self._conn

    def close(self) -> None:
        """Discard the connection (invalidated, never back into the pool: its timeouts are the front's)."""
        if self._conn is not None:
            self._conn.invalidate()
            self._conn.close()
            self._conn = None
