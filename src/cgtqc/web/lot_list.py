"""The lot list: status filters and a search over lot number, product and site; HTMX swaps only the rows."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, or_, select

from cgtqc.store.models import LOT_STATUSES, Lot, Result
from cgtqc.store.sessions import Principal
from cgtqc.web.context import page_user, read_scope, render, see_other

router = APIRouter()
PAGE_ROWS = 200


def find_lots(request: Request, q: str, statuses: list[str]) -> dict:
    """The newest lots matching the search and statuses, each with its number of results."""
    counts = select(Result.lot_id, func.count().label("n")).group_by(Result.lot_id).subquery()
    where = []
    wanted = [s for s in statuses if s in LOT_STATUSES]
    if wanted:
        where.append(Lot.status.in_(wanted))
    if q.strip():
        like = f"%{q.strip().lower()}%"
        where.append(
            or_(
                func.lower(Lot.lot_number).like(like),
                func.lower(Lot.product).like(like),
                func.lower(Lot.site).like(like),
            )
        )
    with read_scope(request) as s:
        total = s.execute(select(func.count()).select_from(Lot).where(*where)).scalar() or 0
        rows = s.execute(
            select(
                Lot.lot_number,
                Lot.product,
                Lot.spec_version,
                Lot.site,
                Lot.status,
                Lot.created_at,
                func.coalesce(counts.c.n, 0).label("results"),
            )
            .outerjoin(counts, counts.c.lot_id == Lot.id)
            .where(*where)
            .order_by(Lot.id.desc())
            .limit(PAGE_ROWS)
        ).all()
    return {
        "lots": rows,
        "total": total,
        "more": total > len(rows),
        "q": q,
        "selected": wanted,
        "statuses": LOT_STATUSES,
    }


@router.get("/", include_in_schema=False)
def home() -> Response:
    return see_other("/lots")


@router.get("/lots", include_in_schema=False)
def lot_list(
    request: Request,
    q: str = "",
    status: list[str] = Query(default_factory=list),
    who: Principal = Depends(page_user),
) -> Response:
    return render(request, "lots.html.j2", user=who, section="lots", **find_lots(request, q, status))


@router.get("/fragments/lot-rows", include_in_schema=False)
def lot_rows(
    request: Request,
    q: str = "",
    status: list[str] = Query(default_factory=list),
    who: Principal = Depends(page_user),
) -> Response:
    """HTMX fragment: the table rows for the filter."""
    return render(request, "_lot_rows.html.j2", user=who, **find_lots(request, q, status))
