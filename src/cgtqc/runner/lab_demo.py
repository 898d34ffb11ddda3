"""The laboratory quality system in `cgtqc demo` (issue 15): the lab's records and two OOS investigations.

Before the lots: a qualified, calibrated flow cytometer, an accepted viability-dye lot, method version
VIAB:2 for viability (two retests at most, no averaging) and alice and dave qualified on it. Then:

- MSC-26-0019 (viability 68.4 % from its flow run, >= 70.0 %): phase I finds no laboratory error, dave's
  authorised retest confirms it, QA escalates to phase II, the OOS is confirmed and the lot is rejected;
- MSC-26-0020 (viability 64.2 % entered by alice): phase I finds the sample held at room temperature before
  staining, dave's authorised retest reads 91.0 %, the supervisor invalidates the original with that
  assignable cause, and the lot is released on the retest; both results stay on its record and certificate.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cgtqc import __version__
from cgtqc.lab import deviations, instruments, methods, oos, reagents
from cgtqc.lab.checks import LabContext
from cgtqc.lots import disposition, service
from cgtqc.lots.coa import write_coa
from cgtqc.results import Measurement, Provenance
from cgtqc.store.db import session_scope
from cgtqc.store.models import Lot, utcnow
from cgtqc.store.users import create_user

INSTRUMENT, REAGENT, METHOD = "FC-01", "7AAD-2611", "VIAB:2"
RETEST_ANALYST = ("dave", "Dave Analyst", "analyst")
NO_ERROR = {
    "calculation": "recalculated from the FCS gates: no error",
    "instrument": f"{INSTRUMENT} calibrated, QC beads in range on the day",
    "standards": f"viability dye lot {REAGENT} accepted and in date; controls in range",
    "method": f"{METHOD} followed as written",
    "analyst": f"alice qualified on {METHOD}",
}


def setup(url: str, password: str) -> None:
    """The lab's instrument, reagent lot, method version, a second analyst and their qualifications."""
    today = utcnow().date()
    with session_scope(url) as s:
        username, name, role = RETEST_ANALYST  # OOS retests are done by another analyst than the original's
        create_user(s, username, name, role, password, by="admin")
        instruments.add_instrument(s, "alice", INSTRUMENT, "Flow cytometer 1", "flow cytometer", "QC lab 2")
        for stage in ("iq", "oq", "pq"):
            instruments.record_qualification(s, "bob", INSTRUMENT, stage, today - timedelta(days=400))
        instruments.record_calibration(
            s, "alice", INSTRUMENT, today - timedelta(days=20), today + timedelta(days=160)
        )
        reagents.add_reagent_lot(
            s,
            "alice",
            REAGENT,
            "7-AAD viability dye",
            "reagent",
            today + timedelta(days=200),
            storage="2-8 °C, dark",
            supplier="demo supplier",
        )
        reagents.set_status(s, "bob", REAGENT, "accepted", "incoming check passed")
        name, version = METHOD.split(":")
        methods.add_method_version(
            s,
            "carol",
            name,
            version,
            "viability",
            today - timedelta(days=365),
            validation_report="VAL-VIAB-2 (ICH Q2 report, `cgtqc validate`)",
            max_retests=2,
        )
        for analyst in ("alice", "dave"):
            methods.qualify_analyst(
                s, "bob", analyst, METHOD, today - timedelta(days=300), today + timedelta(days=65)
            )


def _retest(s, lot_number: str, number: str, value: float, sample_finding: str, hypothesis: str) -> None:  # type: ignore[no-untyped-def]
    oos.record_phase_i(s, "alice", number, {**NO_ERROR, "sample": sample_finding}, hypothesis)
    oos.authorise_retests(s, "bob", number, 1, "one retest of the retained sample, by another analyst")
    prov = Provenance("manual-entry", __version__, {"entered_by": "dave", "retest_of": number})
    service.add_result(
        s,
        "dave",
        lot_number,
        Measurement("viability", value, "%", prov),
        retest_of=number,
        lab=LabContext(INSTRUMENT, (REAGENT,), METHOD),
    )


def confirm(url: str, lot_number: str, password: str) -> str:
    """The open viability investigation: the retest confirms, phase II, OOS confirmed (then rejected)."""
    with session_scope(url) as s:
        (inv,) = [i for i in oos.investigations_of(s, service.get_lot(s, lot_number)) if i.status == "open"]
        number = inv.number
        _retest(
            s,
            lot_number,
            number,
            68.9,
            "retained sample intact, stored as specified",
            "laboratory error (none found)",
        )
        oos.start_phase_ii(
            s, "carol", number, "no assignable laboratory cause; the retest confirms the result"
        )
        oos.record_phase_ii(
            s,
            "carol",
            number,
            "batch record, process parameters and operator interviews of the passage 2 to harvest steps",
            "harvest held 3 h beyond the validated time at room temperature (batch record p. 14)",
        )
        oos.close(
            s,
            "bob",
            password,
            number,
            "confirmed",
            conclusion="low viability from the manufacturing process (batch record review, phase II)",
        )
        deviations.open_deviation(
            s,
            "carol",
            "Low MSC viability at release",
            "carol",
            utcnow().date() + timedelta(days=30),
            lot=service.get_lot(s, lot_number),
            investigation=oos.get_investigation(s, number),
        )
    return number


def invalidated_lot(url: str, out: Path, password: str, typical: dict) -> str:
    """MSC-26-0020: an OOS viability invalidated with an assignable cause; released on the valid retest."""
    lot_number = "MSC-26-0020"
    prov = Provenance("manual-entry", __version__, {"entered_by": "alice", "source": "demo"})
    with session_scope(url) as s:
        service.create_lot(s, "alice", lot_number, "msc", "Leiden")
        spec = service.specification_for(s, "msc")
        for line in spec.lines:
            value = 64.2 if (line.cqa, line.stage) == ("viability", "release") else typical[line.cqa]
            lab = LabContext(INSTRUMENT, (REAGENT,), METHOD) if line.cqa == "viability" else None
            service.add_result(
                s, "alice", lot_number, Measurement(line.cqa, value, line.unit, prov), line.stage, lab=lab
            )
        (inv,) = oos.investigations_of(s, service.get_lot(s, lot_number))
        _retest(
            s,
            lot_number,
            inv.number,
            91.0,
            "tube found at room temperature for 4 h before staining (log QC-17)",
            "sample degraded before staining",
        )
        oos.close(
            s,
            "bob",
            password,
            inv.number,
            "invalidated",
            assignable_cause="sample held 4 h at room temperature before staining (log QC-17)",
        )
    with session_scope(url) as s:
        disposition.review(s, "bob", password, lot_number)
    with session_scope(url) as s:
        disposition.sign(s, "carol", password, lot_number, "released")
    (out / "lab").mkdir(exist_ok=True)
    with session_scope(url) as s:
        write_coa(s, lot_number, out / "lab" / f"{lot_number}.html", out / "lab" / f"{lot_number}.pdf")
    return inv.number


def note(url: str, confirmed: str, invalidated: str) -> str:
    """One line for the demo's summary."""
    with session_scope(url) as s:
        c, i = oos.get_investigation(s, confirmed), oos.get_investigation(s, invalidated)
        c_lot, i_lot = s.get(Lot, c.lot_id), s.get(Lot, i.lot_id)
        return (
            f"lab: {c.number} confirmed OOS (phase {c.phase}) -> {c_lot.lot_number} {c_lot.status}; "
            f"{i.number} invalidated ({i.assignable_cause}) -> {i_lot.lot_number} {i_lot.status} on the "
            f"retest by dave, original kept (lab/{i_lot.lot_number}.pdf)"
        )
