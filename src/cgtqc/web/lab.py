"""The read-only Lab page: instruments (calibration due), reagent lots (expiry, status), open OOS
investigations and open deviations, read through the lab service functions the CLI and API use."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cgtqc.lab import deviations, instruments, oos, reagents
from cgtqc.web.context import PageUser, read_scope, render

router = APIRouter()


def lab_overview(s: Session) -> dict[str, Any]:
    """What the Lab page shows, as plain data."""
    return {
        "instruments": [instruments.to_dict(i) for i in instruments.list_instruments(s)],
        "reagent_lots": [reagents.to_dict(r) for r in reagents.list_reagent_lots(s)],
        "investigations": [oos.to_dict(s, i) for i in oos.list_investigations(s, open_only=True)],
        "deviations": [
            d
            for d in (deviations.to_dict(s, x) for x in deviations.list_deviations(s))
            if d["status"] != "closed"
        ],
    }


@router.get("/lab", include_in_schema=False)
def lab_page(request: Request, who: PageUser) -> Response:
    """Instruments, reagent lots, open OOS investigations and open deviations (read-only)."""
    with read_scope(request) as s:
        doc = lab_overview(s)
    return render(request, "lab.html.j2", user=who, section="lab", **doc)
