"""Sterility, mycoplasma and RCL records: compendial checks and pending -> final with follow-up."""

import json
from datetime import date

import pytest

from cgtqc.assays.microbial.engine import Control, Incubation, MicrobialRecord
from cgtqc.errors import InputError
from cgtqc.results import Measurement, to_json

CONTROLS = (Control("positive", "positive", "positive"), Control("negative", "negative", "negative"))


def _sterility(**kw):
    base = dict(
        cqa="sterility",
        method="membrane filtration (USP <71>)",
        sample="LOT-1",
        sample_volume_ml=10.0,
        started=date(2026, 3, 1),
        controls=CONTROLS,
        incubations=(
            Incubation("fluid thioglycollate", (30.0, 35.0), 14),
            Incubation("soybean-casein digest", (20.0, 25.0), 14),
        ),
    )
    base.update(kw)
    return MicrobialRecord(**base)


def test_compendial_sterility_final_negative():
    rec = _sterility().finalize("negative", date(2026, 3, 15), by="analyst")
    m = rec.to_measurement()
    assert m.value == "No growth" and m.valid and m.cqa == "sterility"
    assert rec.follow_up == "negative"


def test_short_incubation_or_wrong_temperature_fails():
    rec = _sterility(
        incubations=(
            Incubation("fluid thioglycollate", (30.0, 35.0), 7),
            Incubation("soybean-casein digest", (30.0, 35.0), 14),
        )
    )
    failed = {c.name for c in rec.finalize("negative", date(2026, 3, 15)).to_measurement().failed_checks}
    assert failed == {"incubation[fluid thioglycollate]", "incubation[soybean-casein digest]"}


def test_rapid_pending_then_final_positive_after_release():
    rec = MicrobialRecord(
        "sterility_rapid",
        "BacT/ALERT (Ph. Eur. 2.6.27)",
        "LOT-2",
        1.0,
        date(2026, 3, 1),
        incubations=(Incubation("aerobic bottle", (35.0, 37.0), 7),),
        controls=CONTROLS,
        released_at_risk=True,
    )
    pending = rec.to_measurement()
    assert pending.value is None and rec.reportable == "Pending" and not pending.valid
    assert "result pending (released at risk)" in pending.note
    assert [c.name for c in pending.failed_checks] == ["result_final"]
    final = rec.finalize("positive", date(2026, 3, 5))
    m = final.to_measurement()
    assert m.value == "Growth" and m.valid
    assert "notify" in final.follow_up and "notify" in m.note
    with pytest.raises(InputError, match="already final"):
        final.finalize("negative", date(2026, 3, 6))


def test_mycoplasma_failed_control_and_round_trip():
    rec = MicrobialRecord(
        "mycoplasma",
        "NAT (Ph. Eur. 2.6.7)",
        "LOT-3",
        1.0,
        date(2026, 3, 1),
        controls=(Control("positive", "positive", "negative"),),
        status="final",
        result="negative",
    )
    m = rec.to_measurement()
    assert m.value == "Not detected" and not m.valid
    again = MicrobialRecord.from_dict(json.loads(json.dumps(rec.to_dict())))
    assert again == rec
    assert Measurement.from_dict(json.loads(to_json(m))).to_dict() == m.to_dict()


def test_rcl_amount_tested():
    rec = MicrobialRecord(
        "rcl",
        "co-culture",
        "LOT-4",
        5.0,
        date(2026, 3, 1),
        controls=CONTROLS,
        tested_cells=5e6,
        total_cells=1e9,
        tested_supernatant_ml=2.0,
        total_supernatant_ml=100.0,
    )
    failed = {c.name for c in rec.finalize("negative", date(2026, 4, 1)).to_measurement().failed_checks}
    assert failed == {"rcl_cells_tested", "rcl_supernatant_tested"}


def test_bad_records():
    with pytest.raises(InputError, match="unknown microbial test"):
        _sterility(cqa="bioburden")
    with pytest.raises(InputError, match="precedes"):
        _sterility(readings=(), started=date(2026, 3, 1)).finalize("negative", date(2026, 2, 1))
    with pytest.raises(InputError, match="final record"):
        _sterility(status="final")
    with pytest.raises(InputError, match="incomplete"):
        MicrobialRecord.from_dict({"cqa": "sterility"})
