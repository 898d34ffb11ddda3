"""The lot list: a status filter (with the count in each status) and a search over lot number, product,
site and DIN, read through ``lots.queries`` as the API reads it; HTMX swaps only the rows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cgtqc.lots import queries
from cgtqc.store.models import LOT_STATUSES
from cgtqc.web.context import PageUser, read_scope, render, see_other

router = APIRouter()
PAGE_ROWS = 200


def find_lots(request: Request, q: str, status: str) -> dict[str, Any]:
    """The newest lots matching the search and status, and how many lots are in each status."""
    status = status if status in LOT_STATUSES else ""
    with read_scope(request) as s:
        found = queries.list_lots(s, status=status or None, search=q.strip() or None, limit=PAGE_ROWS)
        counts = queries.status_counts(s)
    return {
        "lots": found["lots"],
        "total": found["total"],
        "more": found["total"] > len(found["lots"]),
        "q": q,
        "status": status,
        "counts": counts,
        "all": sum(counts.values()),
    }


@router.get("/", include_in_schema=False)
def home() -> Response:
    return see_other("/lots")


@router.get("/lots", include_in_schema=False)
def lot_list(request: Request, who: PageUser, q: str = "", status: str = "") -> Response:
    return render(request, "lots.html.j2", user=who, section="lots", **find_lots(request, q, status))


@router.get("/fragments/lot-rows", include_in_schema=False)
def lot_rows(request: Request, who: PageUser, q: str = "", status: str = "") -> Response:
    """HTMX fragment: the table rows for the filter."""
    return render(request, "_lot_rows.html.j2", user=who, **find_lots(request, q, status))
