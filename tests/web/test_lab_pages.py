"""The Lab page and the lab links of the lot page: what the lab service functions hold, read-only."""

from __future__ import annotations

from datetime import date, timedelta

from cgtqc import __version__
from cgtqc.lab import deviations, instruments, reagents
from cgtqc.lab.checks import LabContext
from cgtqc.lots import service
from cgtqc.results import Measurement, Provenance
from cgtqc.store.db import session_scope

from .conftest import LOT, login

TODAY = date.today()


def _lab_records(url: str) -> None:
    """A calibrated reader, an accepted LAL reagent lot, an OOS endotoxin result on LOT and a deviation."""
    with session_scope(url) as s:
        instruments.add_instrument(s, "ann", "PR-01", "Plate reader 1", "plate reader", "QC lab 1")
        for stage in ("iq", "oq", "pq"):
            instruments.record_qualification(s, "rex", "PR-01", stage, TODAY - timedelta(days=300))
        instruments.record_calibration(
            s, "ann", "PR-01", TODAY - timedelta(days=5), TODAY + timedelta(days=60)
        )
        reagents.add_reagent_lot(s, "ann", "LAL-3", "chromogenic LAL", "kit", TODAY + timedelta(days=90))
        reagents.set_status(s, "rex", "LAL-3", "accepted", "incoming check passed")
        m = Measurement("endotoxin", 99.0, "EU/mL", Provenance("manual-entry", __version__, {}))
        service.add_result(s, "ann", LOT, m, lab=LabContext("PR-01", ("LAL-3",)))
        deviations.open_deviation(
            s, "ann", "reader lid left open", "ann", TODAY + timedelta(days=14), lot=service.get_lot(s, LOT)
        )


def test_lab_page_lists_instruments_reagents_open_oos_and_deviations(site):
    _lab_records(site.url)
    client = login(site.app, "ann")
    page = client.get("/lab")
    assert page.status_code == 200
    html = page.text
    due = (TODAY + timedelta(days=60)).isoformat()
    assert "PR-01" in html and due in html  # the calibration due date
    assert "LAL-3" in html and (TODAY + timedelta(days=90)).isoformat() in html and "accepted" in html
    assert f"OOS-{LOT}-01" in html and "reader lid left open" in html
    assert 'href="/lab"' in html and 'aria-current="page"' in html


def test_lot_page_shows_each_results_lab_links_and_oos(site):
    _lab_records(site.url)
    client = login(site.app, "rex")
    html = client.get(f"/lots/{LOT}").text
    assert "Lab record:" in html and "instrument <a" in html and "PR-01" in html and "LAL-3" in html
    assert f'OOS investigation <a href="/lab#oos">OOS-{LOT}-01</a> (open)' in html
    fragment = client.get(f"/fragments/lots/{LOT}/results", headers={"HX-Request": "true"}).text
    assert "PR-01" in fragment and f"OOS-{LOT}-01" in fragment
