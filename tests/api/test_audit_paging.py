"""``GET /api/v1/audit`` pages by keyset on the entry number: ``limit``, then ``before``/``after`` cursors."""

from __future__ import annotations

from cgtqc.store import audit
from cgtqc.store.db import session_scope
from cgtqc.store.models import User

RENAMES = 60


def renames(url: str, username: str, n: int = RENAMES) -> None:
    """``n`` real audited changes (one entry each) of a user's printed name, by admin."""
    with session_scope(url) as s:
        u = s.query(User).filter_by(username=username).one()
        for i in range(n):
            audit.update(s, u, {"full_name": f"{username} v{i}"}, "admin", f"rename {i}")


def walk(api, query: str, cursor: str, key: str) -> list[list[int]]:
    """Every page's entry numbers from the first page, following ``key`` as ``cursor`` to the end."""
    pages, q = [], query
    while True:
        page = api.get(f"/audit?{q}").json()
        pages.append([e["id"] for e in page["entries"]])
        if page[key] is None:
            return pages
        q = f"{query}&{cursor}={page[key]}"


def test_pages_are_disjoint_and_cover_every_entry_newest_first(api, db_url):
    renames(db_url, "bob")
    everything = api.get("/audit?limit=1000").json()
    ids = [e["id"] for e in everything["entries"]]
    assert everything["total"] == len(ids) > RENAMES and ids == sorted(ids, reverse=True)
    assert everything["older"] is None and everything["newer"] is None
    pages = walk(api, "limit=7", "before", "older")
    assert [i for p in pages for i in p] == ids and all(len(p) == 7 for p in pages[:-1])
    # and back: from the oldest page, ``newer`` as ``after`` gives the same pages in reverse
    last = api.get(f"/audit?limit=7&before={pages[-2][-1]}").json()
    assert [e["id"] for e in last["entries"]] == pages[-1] and last["older"] is None
    back = [pages[-1]]
    q = last["newer"]
    while q is not None:
        page = api.get(f"/audit?limit=7&after={q}").json()
        back.append([e["id"] for e in page["entries"]])
        q = page["newer"]
    assert [i for p in reversed(back) for i in p] == ids
    assert {len(p) for p in back[1:]} == {7} or len(back) == 1  # full pages above the oldest one


def test_a_filter_survives_paging(sqlite_api, sqlite_url):
    renames(sqlite_url, "bob", 25)
    renames(sqlite_url, "dave", 25)
    pages = walk(sqlite_api, "limit=10&table=users&user=admin", "before", "older")
    seen = [i for p in pages for i in p]
    page1 = sqlite_api.get("/audit?limit=1000&table=users&user=admin").json()
    assert seen == [e["id"] for e in page1["entries"]] and len(seen) == page1["total"] >= 50
    assert all(e["table"] == "users" and e["user"] == "admin" for e in page1["entries"])
    assert [len(p) for p in pages] == [10] * (len(seen) // 10) + ([len(seen) % 10] if len(seen) % 10 else [])
    today = page1["entries"][0]["at"][:10]
    day = sqlite_api.get(f"/audit?limit=5&user=admin&since={today}&until={today}").json()
    assert day["total"] == sqlite_api.get("/audit?limit=1&user=admin").json()["total"]
    assert sqlite_api.get("/audit?user=admin&until=2000-01-01").json()["total"] == 0


BAD = (
    "before=abc",
    "after=-1",
    "before=5&after=3",
    "limit=0",
    "limit=1001",
    "offset=100",
    "since=yesterday",
    "since=2026-12-02&until=2026-12-01",
)


def test_bad_cursor_or_filter_is_422_with_one_line(sqlite_api):
    for query in BAD:
        r = sqlite_api.get(f"/audit?{query}")
        assert r.status_code == 422, (query, r.text)
        assert isinstance(r.json()["detail"], str) and "\n" not in r.json()["detail"], query


def test_openapi_describes_the_cursors_and_the_page(sqlite_api):
    doc = sqlite_api.client.get("/openapi.json").json()
    op = doc["paths"]["/api/v1/audit"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert {"limit", "before", "after", "since", "until", "user", "table"} <= set(params)
    assert "offset" not in params and params["limit"]["schema"]["maximum"] == 1000
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    page = doc["components"]["schemas"][ref]
    assert {"total", "limit", "entries", "older", "newer"} <= set(page["properties"])


def test_lot_filter_pages_the_lots_trail_as_the_lot_route_lists_it(sqlite_api):
    sqlite_api.create_msc_lot("MSC-0001")
    sqlite_api.create_msc_lot("MSC-0002")
    sqlite_api.enter_all("MSC-0001", skip=("endotoxin",))
    whole = sqlite_api.get("/lots/MSC-0001/audit").json()
    pages = walk(sqlite_api, "limit=4&lot=MSC-0001", "before", "older")
    assert sorted(i for p in pages for i in p) == sorted(e["id"] for e in whole) and len(pages) > 1
    assert sqlite_api.get("/audit?lot=NOPE").status_code == 422
