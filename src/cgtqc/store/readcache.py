"""Read answers memoised in the server process, keyed on the head of the audit chain.

Every change to a GMP record appends an audit entry in the same transaction (:mod:`cgtqc.store.audit`), so
the chain's head (the newest entry's id and hash) changes whenever anything a lot page or the lot list can
show has changed: a result, a review, a signature, a lab record, an OOS investigation, another lot's
release (trending). Verdicts are still never stored: an answer is recomputed from the records after any
write, and the memo lives only in the process. The UTC date is part of the key, so a state computed
against today (an expiry, an overdue date) never outlives its day. Sessions and logins write no GMP record
and show on no lot page (a login appends a security event, so it clears the memo, harmlessly).

An answer is kept only when the head read again after computing it is the one read before: an answer
computed while another transaction committed (each SELECT may see a newer snapshot) is answered but not
kept. Several server processes each hold their own memo, keyed the same way, so each stays correct.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import date

from sqlalchemy.orm import Session

from cgtqc.store import audit
from cgtqc.store.models import utcnow

Generation = tuple[int, str, date]


def generation(session: Session, today: date | None = None) -> Generation:
    """The state of every GMP record, as one key: the audit chain's head (id and hash) and the UTC date."""
    seq, digest = audit.chain_head(session)
    return (seq, digest, today or utcnow().date())


class BytesLRU:
    """A thread-safe LRU of immutable answers (bytes), bounded in entries and in bytes; also the lot page's
    cache of drawn plot images (``web.plots``)."""

    def __init__(self, maxsize: int = 2048, maxbytes: int = 64 << 20) -> None:
        self.maxsize = maxsize
        self.maxbytes = maxbytes
        self.nbytes = 0
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def lookup(self, key: Hashable) -> bytes | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def keep(self, key: Hashable, value: bytes) -> None:
        """Keep ``value`` (one larger than ``maxbytes`` is not kept), evicting the least recently used."""
        if len(value) > self.maxbytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self.nbytes += len(value) - (len(old) if old is not None else 0)
            self._items[key] = value
            while len(self._items) > self.maxsize or self.nbytes > self.maxbytes:
                self.nbytes -= len(self._items.popitem(last=False)[1])

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.nbytes = 0


class ReadCache(BytesLRU):
    """The memo of read answers per ``(generation, key)`` (a lot list of 1,000 lots is ~200 kB, a lot page
    ~12 kB)."""

    def __init__(
        self, maxsize: int = 2048, maxbytes: int = 64 << 20, today: Callable[[], date] | None = None
    ) -> None:
        super().__init__(maxsize, maxbytes)
        self._today = today or (lambda: utcnow().date())
        self.hits = 0
        self.misses = 0
        self.front_hits = 0  # hits answered before the framework ran (``api.front``), also in ``hits``

    def get(self, session: Session, key: Hashable, compute: Callable[[], bytes | None]) -> bytes | None:
        """The memoised answer of ``key`` at the database's current state, else ``compute()`` (kept when the
        state did not move while it ran; None, e.g. an unknown lot, is never kept)."""
        if self.maxsize <= 0:
            return compute()
        gen = generation(session, self._today())
        hit = self.at(gen[:2], key)
        if hit is not None:
            return hit
        self.misses += 1
        value = compute()
        if value is not None and generation(session, self._today()) == gen:
            self.keep((gen, key), value)
        return value

    def at(self, head: tuple[int, str], key: Hashable) -> bytes | None:
        """The answer of ``key`` memoised at the chain head ``head`` today (a hit), else None (not counted:
        the caller computes, or hands over to a caller that does)."""
        hit = self.lookup(((*head, self._today()), key))
        if hit is not None:
            self.hits += 1
        return hit
