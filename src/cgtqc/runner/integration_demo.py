"""The demo's integration-site follow-up (issue 13): the LV-HSC patient's month-6/12/24 samples.

Not a release test (no line in the ``lv_hsc`` specification): a follow-up sample of the same patient,
simulated by :func:`cgtqc.seq.integration.sim.simulate_followup` (one clone set, a planted rising clone, a
shrinking dominant clone), called timepoint by timepoint, and reported longitudinally with the patient's
VCN results from the demo store, into ``DEMO_OUT/integration/`` (``report.html``, ``cqas.json``, ...).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from cgtqc.lots import service
from cgtqc.lots.followup import patient_values
from cgtqc.seq.integration.calling import call_sites, write_outputs
from cgtqc.seq.integration.report import Timepoint, VcnPoint, build_report, write_report
from cgtqc.seq.integration.run import settings_from
from cgtqc.seq.integration.sim import DEFAULT_LINKER, DEFAULT_LTR, SimConfig, simulate_followup
from cgtqc.seq.integration.sitetable import read_sites, read_summary
from cgtqc.seq.integration.spec import ENGINE
from cgtqc.store.db import session_scope

LOT = "LVHSC-26-0042"
PAIRS = 3_000  # per timepoint: enough for the planted rising clone, and a demo of a few seconds
SEED = 7


def followup_demo(url: str, out: Path, lot: str = LOT, seed: int = SEED, pairs: int = PAIRS) -> str:
    """Simulate, call and report the follow-up of ``lot``'s patient; returns a one-line note."""
    with session_scope(url) as s:
        patient = service.get_lot(s, lot).coi_id or ""
        vcn = [
            VcnPoint(v.lot, v.stage, v.value, v.unit, (v.manufactured_on or v.entered_on).isoformat())
            for v in patient_values(s, patient, "vcn")
        ]
    folder = out / "integration"
    params = ENGINE.parameters({"ltr": DEFAULT_LTR, "linker": DEFAULT_LINKER})
    tps = []
    with tempfile.TemporaryDirectory(prefix="cgtqc-demo-followup-") as tmp:
        for truth in simulate_followup(tmp, seed, config=SimConfig(n_pairs=pairs)):
            f, sites_dir = truth.files, folder / truth.timepoint
            result = call_sites(
                f["r1"],
                f["r2"],
                f["genome"],
                settings_from(params),
                vector=f["vector"],
                genes=f["genes"],
                dominant_fraction=params.dominant_fraction,
            )
            write_outputs(result, sites_dir)
            tps.append(Timepoint(truth.timepoint, read_sites(sites_dir), read_summary(sites_dir)))
    rep = build_report(tps, patient, vcn=vcn)
    write_report(rep, folder)
    return (
        f"integration follow-up of {patient} ({lot}): {', '.join(rep.labels)}, "
        f"{len(rep.rising)} rising clones, {len(vcn)} VCN results; report "
        f"{(folder / 'report.html').relative_to(out)}"
    )
