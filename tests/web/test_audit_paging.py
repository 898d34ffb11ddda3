"""The audit trail page pages 100 entries at a time, newest first, its filters kept in the page links."""

from __future__ import annotations

import html
import re

from cgtqc.store import audit
from cgtqc.store.db import session_scope
from cgtqc.store.models import User

from .conftest import LOT, login

HX = {"HX-Request": "true"}
ROW = re.compile(r"<tr><td>(\d+)</td>")
OLDER = re.compile(r'rel="next" href="/audit\?([^"]*)"')
NEWER = re.compile(r'rel="prev" href="/audit\?([^"]*)"')


def renames(url: str, n: int) -> None:
    """``n`` real audited changes of rex's printed name, by admin (one entry each)."""
    with session_scope(url) as s:
        u = s.query(User).filter_by(username="rex").one()
        for i in range(n):
            audit.update(s, u, {"full_name": f"Rex v{i}"}, "admin", f"rename {i}")


def ids(page: str) -> list[int]:
    return [int(i) for i in ROW.findall(page)]


def follow(client, first: str, pattern: re.Pattern) -> list[list[int]]:
    """The entry numbers of every page from ``first``, following the link ``pattern`` finds to the end."""
    pages, path = [], first
    while path is not None:
        text = client.get(path).text
        pages.append(ids(text))
        m = pattern.search(text)
        path = f"/audit?{html.unescape(m.group(1))}" if m else None
    return pages


def test_pages_of_100_cover_everything_in_order_and_filters_survive_paging(site):
    renames(site.url, 110)  # with the seeded lots' entries, two pages; of users by admin, two pages too
    admin = login(site.app, "admin")
    pages = follow(admin, "/audit", OLDER)
    seen = [i for p in pages for i in p]
    assert len(pages) == 2 and len(pages[0]) == 100 and 0 < len(pages[1]) <= 100
    assert seen == sorted(set(seen), reverse=True) and seen[-1] == 1  # disjoint, newest first, to the first
    last = admin.get(f"/audit?before={pages[0][-1]}").text
    assert 'rel="next"' not in last and ids(last) == pages[1]
    assert follow(admin, f"/audit?before={pages[0][-1]}", NEWER) == pages[::-1]  # and back
    frag = admin.get(f"/fragments/audit-rows?before={pages[0][-1]}", headers=HX)
    assert frag.status_code == 200 and "<html" not in frag.text and ids(frag.text) == pages[1]
    # a filter: every page link keeps it
    by_admin = follow(admin, "/audit?table=users&user=admin", OLDER)
    assert len(by_admin) == 2 and len(by_admin[0]) == 100 and set(by_admin[0]).isdisjoint(by_admin[1])
    page2 = admin.get(f"/audit?table=users&user=admin&before={by_admin[0][-1]}").text
    assert 'name="user" value="admin"' in page2 and "<option selected>users</option>" in page2
    rows = re.findall(r"<td>(\w+)</td><td>\w+</td><td>(\w+) #", page2)
    assert rows and set(rows) == {("admin", "users")} and len(rows) == len(by_admin[1])
    lot = admin.get(f"/audit?lot={LOT}&table=results").text
    assert "results #" in lot and "users #" not in lot and 'rel="next"' not in lot
    assert ids(admin.get("/audit?until=2000-01-01").text) == []


def test_bad_cursor_or_day_is_a_clear_422(site):
    admin = login(site.app, "admin")
    for query in ("before=abc", "after=-3", "before=4&after=2", "since=tomorrow"):
        r = admin.get(f"/audit?{query}")
        assert r.status_code == 422 and "Not accepted" in r.text, query
        f = admin.get(f"/fragments/audit-rows?{query}", headers=HX)
        assert f.status_code == 422 and f.text.startswith('<p class="flash error"'), query
    assert admin.get("/audit?lot=NO-SUCH-LOT").status_code == 404
