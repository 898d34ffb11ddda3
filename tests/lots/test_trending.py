"""Out of trend by run rules on the store: the verdict 'oot' (as the alert limits give it), a notification,
the certificate, and the store read by the statistics commands."""

import json
import shutil
import sys

import numpy as np
import pytest

from cgtqc import __version__
from cgtqc.lots import disposition, service, trending
from cgtqc.lots.coa import render_html
from cgtqc.results import Measurement, Provenance
from cgtqc.specs import templates
from cgtqc.store import audit
from cgtqc.store.db import migrate, session_scope
from cgtqc.store.models import Lot
from cgtqc.store.users import create_user
from cgtqc.trend.simulate import lot_history

TYPICAL = {
    "p24_titer": 3.2e5,
    "functional_titer": 4.4e8,
    "residual_plasmid_dna": 12.0,
    "residual_host_dna": 2.1,
    "rcl": "Not detected",
    "endotoxin": 0.12,
    "sterility": "No growth",
    "mycoplasma": "Not detected",
}
PROV = Provenance("manual-entry", __version__, {"entered_by": "ann"})


def enter(s, lot_number, value, site="Durham"):
    service.create_lot(s, "ann", lot_number, "lv_vector", site)
    for line in templates()["lv_vector"].release_lines:
        v = value if line.cqa == "residual_plasmid_dna" else TYPICAL[line.cqa]
        service.add_result(s, "ann", lot_number, Measurement(line.cqa, v, line.unit, PROV))


def release(s, lot_number):
    """History lots: released directly (the disposition path itself is tested in test_disposition.py)."""
    lot = service.get_lot(s, lot_number)
    audit.update(s, lot, {"status": "released"}, "quinn", "test history")


@pytest.fixture(scope="module")
def history_db(tmp_path_factory):
    """12 released lv_vector lots at Durham (built once; each test works on a copy)."""
    path = tmp_path_factory.mktemp("trending") / "history.db"
    u = f"sqlite:///{path}"
    migrate(u)
    with session_scope(u) as s:
        for name, role in [("ann", "analyst"), ("quinn", "qa")]:
            create_user(s, name, name.title(), role, "pw-123456", by="test")
        values = lot_history(12, mean=12.0, sd=1.5, seed=1).column("value")
        for i, v in enumerate(values):
            enter(s, f"H{i:02d}", v)
            release(s, f"H{i:02d}")
    return path


@pytest.fixture
def url(history_db, tmp_path):
    copy = tmp_path / "t.db"
    shutil.copy(history_db, copy)
    return f"sqlite:///{copy}"


def outcome(s, lot_number):
    ev = disposition.evaluate_lot(s, service.get_lot(s, lot_number))
    return next(o for o in ev.outcomes if o.line.cqa == "residual_plasmid_dna"), ev


def test_run_rule_violation_makes_oot_and_notifies(url):
    with session_scope(url) as s:
        enter(s, "NEW-1", 19.0)  # conforms (<= 100) but > 3 sigma above 12 lots around 12
        o, ev = outcome(s, "NEW-1")
        assert o.evaluation.verdict == "oot" and o.evaluation.reportable == "19"
        assert "Nelson rule 1" in o.evaluation.reason and "12 earlier released lots" in o.evaluation.reason
        assert not [b for b in ev.blockers if "oot" in b or "trend" in b]  # OOT does not block release
        notes = service.notifications_of(s, service.get_lot(s, "NEW-1"))
        assert len(notes) == 1 and notes[0].severity == "warning" and "out of trend" in notes[0].message
        html = render_html(s, "NEW-1")
        assert "Conforms (OOT)" in html and "out of trend" in html


def test_in_trend_lot_passes_and_history_is_per_site(url):
    with session_scope(url) as s:
        enter(s, "NEW-2", 12.5)
        assert outcome(s, "NEW-2")[0].evaluation.verdict == "pass"
        assert not service.notifications_of(s, service.get_lot(s, "NEW-2"))
        enter(s, "OTHER-1", 19.0, site="Leiden")  # no history at that site: no run rule
        assert outcome(s, "OTHER-1")[0].evaluation.verdict == "pass"


def test_too_short_history_and_earlier_lots_unchanged(url, monkeypatch):
    monkeypatch.setattr(trending, "MIN_HISTORY", 50)
    with session_scope(url) as s:
        enter(s, "NEW-3", 19.0)
        assert outcome(s, "NEW-3")[0].evaluation.verdict == "pass"
    monkeypatch.setattr(trending, "MIN_HISTORY", 10)
    with session_scope(url) as s:
        # the first lots were judged on fewer than 10 earlier lots: no run rule, whatever came after
        assert outcome(s, "H05")[0].evaluation.verdict == "pass"


def test_store_columns_feed_the_statistics(url, monkeypatch, capsys):
    with session_scope(url) as s:
        enter(s, "NEW-4", 19.0)
        cols = trending.store_columns(s, "lv_vector", ["residual_plasmid_dna"], site="Durham")
        assert cols["lot"][-1] == "NEW-4" and len(cols["lot"]) == 13
        assert float(cols["residual_plasmid_dna"][-1]) == 19.0
        assert s.query(Lot).count() == 13
    from cgtqc.cli import main

    db = url.removeprefix("sqlite:///")
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "cgtqc",
            "trend",
            "chart",
            "--product",
            "lv_vector",
            "--cqa",
            "residual_plasmid_dna",
            "--site",
            "Durham",
            "--baseline",
            "12",
            "--json",
            "--db",
            db,
        ],
    )
    main()
    d = json.loads(capsys.readouterr().out)
    assert {"index": 12, "rule": 1, "label": "NEW-4"} in [
        {k: v[k] for k in ("index", "rule", "label")} for v in d["violations"]
    ]
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "cgtqc",
            "trend",
            "capability",
            "--product",
            "lv_vector",
            "--cqa",
            "residual_plasmid_dna",
            "--status",
            "released",
            "--json",
            "--db",
            db,
        ],
    )
    main()
    c = json.loads(capsys.readouterr().out)
    assert c["n"] == 12 and c["usl"] == 100.0 and c["lsl"] is None  # limits from the specification
    assert np.isclose(c["mean"], np.mean(lot_history(12, mean=12.0, sd=1.5, seed=1).column("value")))
