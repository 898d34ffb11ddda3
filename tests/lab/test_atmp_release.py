"""ATMP release that cannot wait (EU GMP Part IV §11.53-11.54): conditional release, late results, OOS supply,
and shelf life in hours across time zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cgtqc.errors import DispositionError, InputError, PermissionDenied
from cgtqc.lab import atmp, deviations, oos
from cgtqc.lots import conditional, disposition, service
from cgtqc.lots.isbt128 import check_character
from cgtqc.specs import templates
from cgtqc.store import audit
from cgtqc.store.db import session_scope

from .conftest import PW, manual

CAR_T = {
    "viable_cell_count": 900.0,
    "transduced_cells_pct": 40.0,
    "appearance": "Conforms",
    "viability": 92.0,
    "cd3_pct": 95.0,
    "car_positive_pct": 35.0,
    "cd4_cd8_ratio": 1.1,
    "car_t_dose": 1.5,
    "vcn": 2.0,
    "transgene_identity": "Conforms",
    "potency_ifng": 100.0,
    "rcl": "Not detected",
    "residual_beads": 3.0,
    "endotoxin": 0.1,
    "sterility_rapid": None,
    "mycoplasma": "Not detected",
}
DIN = "W123426000011"
BERLIN = ZoneInfo("Europe/Berlin")
PHYSICIAN, AUTHORITY = "Dr. Weber, Charité haematology", "Paul-Ehrlich-Institut"


def _car_t_lot(url: str, lot_number: str = "CART-1", **over) -> None:
    spec = templates()["car_t"]
    with session_scope(url) as s:
        service.create_lot(
            s,
            "alice",
            lot_number,
            "car_t",
            "Berlin",
            din=DIN + check_character(DIN),
            coi_id=f"COI-{lot_number}",
        )
        for ln in spec.lines:
            v = over.get(ln.cqa, CAR_T[ln.cqa])
            rationale = "rapid sterility reads after infusion (released at risk)" if v is None else ""
            service.add_result(
                s, "alice", lot_number, manual(ln.cqa, v, ln.unit), ln.stage, rationale=rationale
            )
    with session_scope(url) as s:
        disposition.review(s, "bob", PW, lot_number)


def _release(url: str, lot_number: str = "CART-1"):
    collected = datetime.now(BERLIN) - timedelta(hours=20)
    with session_scope(url) as s:
        return conditional.conditional_release(
            s,
            "carol",
            PW,
            lot_number,
            collected_at=collected,
            tz="Europe/Berlin",
            shelf_life_hours=72,
            physician=PHYSICIAN,
            authority=AUTHORITY,
        )


def test_conditional_release_then_late_positive_sterility_opens_deviation_and_notifies(url):
    _car_t_lot(url)
    _release(url)
    with session_scope(url) as s:
        lot = service.get_lot(s, "CART-1")
        cr = atmp.release_of(s, lot)
        assert (
            lot.status == "released"
            and cr.status == "conditional"
            and cr.pending_json == '["sterility_rapid"]'
        )
        service.add_result(s, "alice", "CART-1", manual("sterility_rapid", "Growth"))
    with session_scope(url) as s:
        lot = service.get_lot(s, "CART-1")
        sent = [(n.recipient_role, n.recipient) for n in atmp.notifications_of(s, lot)]
        assert sent == [("physician", PHYSICIAN), ("qp", "carol"), ("authority", AUTHORITY)]
        (dev,) = deviations.list_deviations(s, lot)
        assert dev.title == "Late positive sterility_rapid after conditional release" and dev.owner == "carol"
        assert all(n.deviation_id == dev.id for n in atmp.notifications_of(s, lot))
        assert dev.result_id == service.current_results(lot)[("sterility_rapid", "release")].id
        assert [i.cqa for i in oos.investigations_of(s, lot)] == ["sterility_rapid"]  # and an OOS case
        assert {"lab_release_notifications", "lab_deviations"} <= {e.table_name for e in audit.log(s)}
        assert audit.verify(s) == []
    with pytest.raises(DispositionError, match="sterility_rapid: fail"):
        with session_scope(url) as s:
            conditional.certify(s, "carol", PW, "CART-1")


def test_conditional_release_then_certification_when_the_late_result_conforms(url):
    _car_t_lot(url)
    _release(url)
    with session_scope(url) as s:
        service.add_result(s, "alice", "CART-1", manual("sterility_rapid", "No growth"))
        conditional.certify(s, "carol", PW, "CART-1")
    with session_scope(url) as s:
        lot = service.get_lot(s, "CART-1")
        assert atmp.release_of(s, lot).status == "certified"
        assert atmp.notifications_of(s, lot) == [] and deviations.list_deviations(s, lot) == []


def test_conditional_release_needs_a_pending_result_physician_and_an_unexpired_lot(url):
    _car_t_lot(url, sterility_rapid="No growth")
    with pytest.raises(DispositionError, match="has no pending result"):
        _release(url)
    _car_t_lot(url, "CART-2")
    with pytest.raises(InputError, match="names the treating physician"), session_scope(url) as s:
        conditional.conditional_release(
            s,
            "carol",
            PW,
            "CART-2",
            collected_at=datetime.now(BERLIN),
            tz="Europe/Berlin",
            shelf_life_hours=72,
            physician="",
            authority=AUTHORITY,
        )
    with pytest.raises(PermissionDenied, match="CART-2 expired at"), session_scope(url) as s:
        conditional.conditional_release(
            s,
            "carol",
            PW,
            "CART-2",
            collected_at=datetime.now(BERLIN) - timedelta(hours=80),
            tz="Europe/Berlin",
            shelf_life_hours=72,
            physician=PHYSICIAN,
            authority=AUTHORITY,
        )
    with pytest.raises(PermissionDenied, match="has role 'reviewer'"), session_scope(url) as s:
        conditional.conditional_release(
            s,
            "bob",
            PW,
            "CART-2",
            collected_at=datetime.now(BERLIN),
            tz="Europe/Berlin",
            shelf_life_hours=72,
            physician=PHYSICIAN,
            authority=AUTHORITY,
        )
    with session_scope(url) as s:
        assert service.get_lot(s, "CART-2").status == "reviewed"  # nothing half-written


def test_supplying_an_oos_lot_needs_request_risk_evaluation_qp_and_notifications(url):
    _car_t_lot(url, viability=61.0)
    with session_scope(url) as s:
        (inv,) = oos.investigations_of(s, service.get_lot(s, "CART-1"))
    kw = dict(
        physician=PHYSICIAN,
        physician_request="REQ-2026-114: no alternative therapy",
        risk_evaluation="RA-77: viability 61 % vs 70 %; dose adjusted; benefit outweighs risk",
        authority=AUTHORITY,
    )
    for missing in ("physician_request", "risk_evaluation", "authority"):
        with pytest.raises(PermissionDenied, match="refused"), session_scope(url) as s:
            conditional.supply_out_of_specification(s, "carol", PW, "CART-1", **{**kw, missing: " "})
    with pytest.raises(PermissionDenied, match="has role 'reviewer'"), session_scope(url) as s:
        conditional.supply_out_of_specification(s, "bob", PW, "CART-1", **kw)
    with session_scope(url) as s:
        er = conditional.supply_out_of_specification(s, "carol", PW, "CART-1", **kw)
        lot = service.get_lot(s, "CART-1")
        assert er.qp == "carol"
        assert [n.recipient_role for n in atmp.notifications_of(s, lot)] == ["physician", "authority"]
        assert inv.number.startswith("OOS-CART-1")
    _car_t_lot(url, "CART-3", sterility_rapid="No growth")
    with pytest.raises(DispositionError, match="not out of specification"), session_scope(url) as s:
        conditional.supply_out_of_specification(s, "carol", PW, "CART-3", **kw)


@pytest.mark.parametrize(
    ("tz", "collected", "hours", "expires"),
    [
        # spring forward in Berlin (29 March 2026, 02:00 -> 03:00): 48 real hours end at 21:00 local
        ("Europe/Berlin", "2026-03-28T20:00", 48, "2026-03-30T21:00:00+02:00"),
        # fall back in Berlin (25 October 2026, 03:00 -> 02:00): 48 real hours end at 19:00 local
        ("Europe/Berlin", "2026-10-24T20:00", 48, "2026-10-26T19:00:00+01:00"),
        # New York springs forward on 8 March 2026
        ("America/New_York", "2026-03-07T12:00", 24, "2026-03-08T13:00:00-04:00"),
        # no DST in Tokyo; an offset given explicitly is honoured and shown in the zone
        ("Asia/Tokyo", "2026-03-28T20:00:00+00:00", 30, "2026-03-30T11:00:00+09:00"),
        ("UTC", "2026-03-29T01:30", 1, "2026-03-29T02:30:00+00:00"),
    ],
)
def test_shelf_life_counts_real_hours_across_time_zones_and_dst(tz, collected, hours, expires):
    t = atmp.collection_time(collected, tz)
    assert atmp.expiry(t, hours).isoformat() == expires
    # in UTC: Python subtracts two times of the same zone by their wall clocks, which a DST change distorts
    assert atmp.expiry(t, hours).astimezone(UTC) - t.astimezone(UTC) == timedelta(hours=hours)


def test_local_times_that_do_not_exist_or_occur_twice_are_refused():
    with pytest.raises(InputError, match="does not exist in Europe/Berlin"):
        atmp.collection_time("2026-03-29T02:30", "Europe/Berlin")
    with pytest.raises(InputError, match="occurs twice in Europe/Berlin"):
        atmp.collection_time("2026-10-25T02:30", "Europe/Berlin")
    assert atmp.collection_time("2026-10-25T02:30+01:00", "Europe/Berlin").utcoffset() == timedelta(hours=1)
    with pytest.raises(InputError, match="unknown time zone 'Mars/Olympus'"):
        atmp.collection_time("2026-10-25T02:30", "Mars/Olympus")


def test_stored_collection_time_round_trips_through_utc(sqlite_url):
    _car_t_lot(sqlite_url)
    collected = datetime(2026, 3, 28, 20, 0, tzinfo=BERLIN)
    with session_scope(sqlite_url) as s:
        lot = service.get_lot(s, "CART-1")
        from cgtqc.lab.signing import signer

        cr = atmp.ConditionalRelease(
            lot_id=lot.id,
            pending_json="[]",
            collected_at=collected.astimezone(UTC).replace(tzinfo=None),
            collection_tz="Europe/Berlin",
            shelf_life_hours=48,
            physician="x",
            authority="y",
            qp=signer(s, "carol", PW, "qa").username,
        )
        assert atmp.expires_at(cr).isoformat() == "2026-03-30T21:00:00+02:00"


def test_conditional_release_and_late_positive_through_the_command_line(sqlite_url, monkeypatch):
    import json

    from typer.testing import CliRunner

    from cgtqc.cli import app

    _car_t_lot(sqlite_url)
    db = sqlite_url.removeprefix("sqlite:///")
    monkeypatch.setenv("CGTQC_PASSWORD", PW)
    runner = CliRunner()

    def cli(*args: str) -> dict | list:
        r = runner.invoke(app, [*args, "--db", db, "--json"], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

    collected = (datetime.now(BERLIN) - timedelta(hours=6)).replace(tzinfo=None).isoformat(timespec="minutes")
    doc = cli(
        "release",
        "conditional",
        "CART-1",
        "--collected",
        collected,
        "--tz",
        "Europe/Berlin",
        "--shelf-life-hours",
        "48",
        "--physician",
        PHYSICIAN,
        "--authority",
        AUTHORITY,
        "-u",
        "carol",
    )
    assert doc["pending"] == ["sterility_rapid"] and doc["status"] == "conditional"
    assert datetime.fromisoformat(doc["expires_at"]) - datetime.now(UTC) > timedelta(hours=41)
    cli("result", "add", "CART-1", "sterility_rapid", "Growth", "-u", "alice")
    (dev,) = cli("deviation", "list", "--lot", "CART-1")
    assert dev["title"].startswith("Late positive sterility_rapid") and dev["owner"] == "carol"
