"""`cgtqc demo`: a complete workspace in one command, built the way a lab would use cgtqc.

Users with the four roles; for each modality a lot folder written by ``cgtqc lot scaffold --simulate`` (raw
files from the engines' simulators, with the truth that makes the lot's story: an out-of-trend VCN, an OOS
viability) and run by ``cgtqc run`` into the demo database; the manual entries of tests no engine computes
(appearance, karyotype, CFU, ...); an invalid assay run repeated on a new run, as a lab would; then review,
signatures and a certificate of analysis per lot. One lot is out of specification and rejected; others are
released after second-person review and a QA signature; one is released with a rapid sterility result
pending and completed afterwards, again through its engine.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from cgtqc.errors import DispositionError
from cgtqc.lots import disposition, service, signatures
from cgtqc.lots.coa import write_coa
from cgtqc.lots.isbt128 import check_character
from cgtqc.runner import lab_demo
from cgtqc.runner.integration_demo import followup_demo
from cgtqc.runner.lot_run import LotRun, run_lot
from cgtqc.runner.manifest import MANIFEST, write_manifest
from cgtqc.runner.scaffold import manifest_files, scaffold, test_seed
from cgtqc.store import audit
from cgtqc.store.db import migrate, session_scope
from cgtqc.store.users import create_user

PASSWORD = "demo-password"
USERS = [
    ("admin", "Ada Admin", "admin"),
    ("alice", "Alice Analyst", "analyst"),
    ("bob", "Bob Reviewer", "reviewer"),
    ("carol", "Carol QA", "qa"),
]

# Typical values for tests no engine produced in the demo (entered by the analyst, provenance 'manual-entry').
TYPICAL: dict[str, float | str] = {
    "viable_cell_count": 1200.0,
    "viable_cell_concentration": 4.2,
    "viability": 91.3,
    "cd3_pct": 96.1,
    "car_positive_pct": 38.4,
    "cd4_cd8_ratio": 1.32,
    "car_t_dose": 2.1,
    "transduced_cells_pct": 52.0,
    "cd34_viable_per_ul": 1850.0,
    "cd34_dose_per_kg": 8.4,
    "cd34_viability": 94.0,
    "cd34_purity_pct": 92.5,
    "cfu_total": 112.0,
    "vcn": 2.4,
    "edited_alleles_pct": 72.0,
    "hdr_pct": 14.0,
    "intended_edit_pct": 12.0,
    "offtarget_sites_above_background": 0.0,
    "large_deletion_pct": 1.2,
    "hbf_induction": 34.0,
    "vg_titer": 2.03e13,
    "capsid_titer": 2.6e13,
    "full_capsid_pct": 78.0,
    "genome_integrity_pct": 71.0,
    "full_genome_pct": 68.0,
    "itr_intact_pct": 64.0,
    "residual_backbone_pct": 1.9,
    "residual_helper_pct": 0.3,
    "residual_repcap_pct": 0.2,
    "residual_host_dna_pct": 0.6,
    "infectious_titer": 4.1e9,
    "potency_expression": 96.0,
    "p24_titer": 3.2e5,
    "functional_titer": 4.4e8,
    "residual_plasmid_dna": 12.0,
    "residual_host_dna": 2.1,
    "potency_ifng": 104.0,
    "msc_immunosuppression": 48.0,
    "endotoxin": 0.12,
    "residual_beads": 20.0,
    "transgene_identity": "Conforms",
    "msc_identity": "Conforms",
    "karyotype": "Conforms",
    "appearance": "Conforms",
    "sterility": "No growth",
    "sterility_rapid": "No growth",
    "mycoplasma": "Not detected",
    "rcl": "Not detected",
    "adventitious_virus": "Not detected",
    "tert_mrna": "Not detected",
}


@dataclass
class DemoLot:
    product: str
    lot_number: str
    site: str
    plan: str  # released | rejected | review | open
    truth: dict[str, dict] = field(default_factory=dict)  # test id -> truth given to its simulator


LOTS = [
    DemoLot("car_t", "CART-26-0101", "Basel (central)", "released"),
    # VCN 4.3 copies/diploid genome: within specification (<= 5.0), beyond the alert limit (<= 4.0)
    DemoLot("lv_hsc", "LVHSC-26-0042", "Basel (central)", "review", truth={"ddpcr-vcn": {"vcn": 4.3}}),
    DemoLot("crispr_hsc", "EDHSC-26-0007", "Boston (point of care)", "released"),
    # a clean AAV lot: less plasmid backbone, rep/cap and host DNA than the simulator's typical lot mix
    DemoLot("aav", "AAV9-26-0315", "Durham", "released",
            truth={"aav-full_genome_pct": {"weights": {"backbone": 0.01, "repcap": 0.008, "host": 0.015}}}),
    DemoLot("lv_vector", "LVV-26-0088", "Durham", "open"),
    # viability 68.4% at release against >= 70.0%: out of specification
    DemoLot("msc", "MSC-26-0019", "Leiden", "rejected", truth={"flow-viability": {"viability": 68.4}}),
]
MAX_RUNS = 3  # an invalid assay run (a failed control or suitability check) is repeated on a new run


def _din(sequence: int) -> tuple[str, str]:
    din = f"W1234{26:02d}{sequence:06d}"
    return f"{din}{check_character(din)}", f"COI-{din}"


def _manifest(lot_dir: Path) -> dict:
    return yaml.safe_load((lot_dir / MANIFEST).read_text())


def _save(lot_dir: Path, doc: dict) -> None:
    write_manifest(lot_dir / MANIFEST, doc)


def prepare_lot(d: DemoLot, out: Path, seq: int, seed: int) -> Path:
    """The lot folder: scaffolded with simulated raw files, the manual values typed in."""
    din, coi = _din(seq) if d.product in service.AUTOLOGOUS_PRODUCTS else (None, None)
    lot_dir = out / "lots" / d.lot_number
    scaffold(d.product, lot_dir, lot=d.lot_number, site=d.site, din=din, coi=coi, simulate=True, seed=seed,
             truth=d.truth)
    doc = _manifest(lot_dir)
    for test in doc["tests"]:
        if "engine" not in test:
            test["value"] = TYPICAL[test["cqas"][0]]
            test["note"] = "entered by the analyst (demo)"
    _save(lot_dir, doc)
    return lot_dir


def _repeat_invalid(d: DemoLot, lot_dir: Path, run: LotRun, seed: int, attempt: int) -> bool:
    """Re-simulate the tests whose runs were invalid (a new assay run), as a lab repeats an invalid run."""
    from cgtqc.engines import registry

    doc = _manifest(lot_dir)
    repeated = False
    for tr in run.tests:
        if tr.result is None or tr.test.manual or all(m.valid for m in tr.result.measurements):
            continue
        entry = next(t for t in doc["tests"] if t["id"] == tr.test.id)
        engine = registry()[tr.test.engine]
        raw = lot_dir / "raw" / f"{tr.test.id}-run{attempt}"
        sim = engine.make_simulated(raw, test_seed(seed, d.lot_number, f"{tr.test.id}/{attempt}"),
                                    tr.test.cqas[0], d.product, d.truth.get(tr.test.id))
        bad = sorted({c.name for m in tr.result.measurements for c in m.failed_checks})
        entry["files"] = manifest_files(sim, lot_dir)
        entry["note"] = f"repeat of an invalid run ({', '.join(bad)})"
        repeated = True
    if repeated:
        _save(lot_dir, doc)
    return repeated


def run_demo(out: Path, console: Console, seed: int = 20261122) -> list[dict]:
    """Build the demo workspace in ``out`` and print a summary table; returns the summary rows."""
    if out.exists():
        shutil.rmtree(out)
    (out / "coa").mkdir(parents=True)
    url = f"sqlite:///{out / 'cgtqc.db'}"
    migrate(url)
    with session_scope(url) as s:
        for username, name, role in USERS:
            create_user(s, username, name, role, PASSWORD, by="system")
    lab_demo.setup(url, PASSWORD)  # instrument, reagent lot, method version, analysts, dave (issue 15)
    confirmed = ""
    summary = []
    for i, d in enumerate(LOTS):
        lot_dir = prepare_lot(d, out, i + 1, seed + i)
        problems: list[str] = []
        for attempt in range(1, MAX_RUNS + 1):
            run = run_lot(lot_dir, db_url=url, user="alice", password=PASSWORD, scheduler="local")
            if attempt == MAX_RUNS or not _repeat_invalid(d, lot_dir, run, seed + i, attempt + 1):
                break
        problems += [f"{t.test.id}: {t.error}" for t in run.failed]
        if d.plan == "rejected":  # its OOS investigation: retest, phase II, confirmed (issue 15)
            confirmed = lab_demo.confirm(url, d.lot_number, PASSWORD)
        summary.append(_finish_lot(url, d, lot_dir, out, run, problems, seed + i))
        for p in problems:
            console.print(f"[yellow]warning:[/] {d.lot_number}: {p}", highlight=False)
    trend_note = _trend_demo(url, out)  # trending step (issue 14): a run-rule OOT lot on its CoA
    invalidated = lab_demo.invalidated_lot(url, out, PASSWORD, TYPICAL)  # released on its retest (issue 15)
    followup_note = followup_demo(url, out)  # the LV-HSC patient's integration-site follow-up (issue 13)
    with session_scope(url) as s:
        intact = not audit.verify(s) and not signatures.verify_signatures(s)
        n_entries = len(audit.log(s))
    table = Table("lot", "product", "tests", "pass", "OOS", "OOT", "pending", "from engines", "disposition",
                  "CoA", title="cgtqc demo")
    for r in summary:
        table.add_row(r["lot"], r["product"], str(r["tests"]), str(r["pass"]), str(r["fail"]), str(r["oot"]),
                      str(r["pending"]), str(r["from_engines"]), r["status"], r["coa_pdf"])
    if not console.is_terminal:  # a log or CI: do not squeeze the summary into 80 columns
        console = Console(width=140)
    console.print(table)
    console.print(
        f"workspace {out}: database {out / 'cgtqc.db'}, users {', '.join(u for u, _, _ in USERS)} "
        f"(password {PASSWORD!r}); lot folders in {out / 'lots'} (re-run one with `cgtqc run`); "
        f"audit trail {'intact' if intact else 'BROKEN'} ({n_entries} entries)"
    )
    console.print(trend_note, highlight=False)
    console.print(lab_demo.note(url, confirmed, invalidated), highlight=False)
    console.print(followup_note, highlight=False)
    return summary


# --- Trending (issue 14) ---------------------------------------------------------------------------------
# A lentiviral-vector lot history from the lot-history generator, entered and released as earlier lots,
# then one lot whose residual plasmid DNA conforms to its specification but breaks Nelson rule 1 on the
# chart of the earlier released lots: its verdict is 'oot' and a notification stands on it, both on its
# certificate.
TREND_PRODUCT, TREND_SITE, TREND_CQA, TREND_LOTS = "lv_vector", "Durham", "residual_plasmid_dna", 20
TREND_SEED = 1  # a history in which no earlier lot breaks a rule as it is entered: only the planted lot does


def _trend_demo(url: str, out: Path, seed: int = TREND_SEED) -> str:
    from cgtqc import __version__
    from cgtqc.results import Measurement, Provenance
    from cgtqc.trend.simulate import lot_history

    history = lot_history(TREND_LOTS + 1, mean=12.0, sd=1.5, oot_lot=TREND_LOTS, oot_sigma=4.5,
                          prefix="LVV-25", site=TREND_SITE, seed=seed)
    names, values = history.column("lot"), history.column("value")
    with session_scope(url) as s:
        spec = service.specification_for(s, TREND_PRODUCT)
    source = "demo lot history (cgtqc.trend.simulate.lot_history)"
    prov = Provenance("manual-entry", __version__, {"entered_by": "alice", "source": source})
    for lot_number, value in zip(names, values, strict=True):
        with session_scope(url) as s:
            service.create_lot(s, "alice", lot_number, TREND_PRODUCT, TREND_SITE)
            for line in spec.release_lines:
                v = value if line.cqa == TREND_CQA else TYPICAL[line.cqa]
                service.add_result(s, "alice", lot_number, Measurement(line.cqa, v, line.unit, prov))
        with session_scope(url) as s:
            disposition.review(s, "bob", PASSWORD, lot_number)
        with session_scope(url) as s:
            disposition.sign(s, "carol", PASSWORD, lot_number, "released")
    flagged = names[-1]
    (out / "trending").mkdir(exist_ok=True)
    pdf = out / "trending" / f"{flagged}.pdf"
    with session_scope(url) as s:
        write_coa(s, flagged, out / "trending" / f"{flagged}.html", pdf)
        ev = disposition.evaluate_lot(s, service.get_lot(s, flagged))
        o = next(o for o in ev.outcomes if o.line.cqa == TREND_CQA)
    return (f"trending: {TREND_LOTS} released {TREND_PRODUCT} lots at {TREND_SITE} (lot-history generator), "
            f"then {flagged}: {TREND_CQA} {o.evaluation.reportable} -> {o.evaluation.verdict} "
            f"({o.evaluation.reason.split('; ', 1)[-1]}); CoA {pdf.relative_to(out)}")


def _complete_pending(d: DemoLot, lot_dir: Path, url: str, seed: int) -> None:
    """After release at risk: the rapid method's final reading, through its engine, as a follow-up."""
    doc = _manifest(lot_dir)
    for entry in doc["tests"]:
        if "rationale" not in entry:
            continue
        from cgtqc.engines import registry

        engine = registry()[entry["engine"]]
        raw = lot_dir / "raw" / f"{entry['id']}-final"
        sim = engine.make_simulated(raw, test_seed(seed, d.lot_number, entry["id"]), entry["cqas"][0],
                                    d.product, {"complete": True})
        entry["files"] = manifest_files(sim, lot_dir)
        entry["note"] = "final reading after release at risk"
    _save(lot_dir, doc)
    run_lot(lot_dir, db_url=url, user="alice", password=PASSWORD, scheduler="local")


def _finish_lot(url: str, d: DemoLot, lot_dir: Path, out: Path, run: LotRun, problems: list[str],
                seed: int) -> dict:
    with session_scope(url) as s:
        if d.plan != "open":
            disposition.review(s, "bob", PASSWORD, d.lot_number)
    if d.plan in ("released", "rejected"):
        try:
            with session_scope(url) as s:
                disposition.sign(s, "carol", PASSWORD, d.lot_number, d.plan)
        except DispositionError as exc:  # an engine result out of specification: QA rejects instead
            problems.append(str(exc))
            with session_scope(url) as s:
                disposition.sign(s, "carol", PASSWORD, d.lot_number, "rejected")
    if d.plan == "released" and not problems:
        _complete_pending(d, lot_dir, url, seed)
    html, pdf = out / "coa" / f"{d.lot_number}.html", out / "coa" / f"{d.lot_number}.pdf"
    with session_scope(url) as s:
        write_coa(s, d.lot_number, html, pdf)
        lot = service.get_lot(s, d.lot_number)
        ev = disposition.evaluate_lot(s, lot)
        counts = {
            v: sum(o.evaluation.verdict == v for o in ev.outcomes) for v in ("pass", "fail", "oot", "pending")
        }
        from_engines = sum(
            1 for o in ev.outcomes
            if o.result is not None and json.loads(o.result.provenance_json)["engine"] != "manual-entry"
        )
        return {
            "lot": d.lot_number,
            "product": d.product,
            "tests": len(ev.outcomes),
            **counts,
            "from_engines": from_engines,
            "status": lot.status,
            "coa_pdf": str(pdf.relative_to(out)),
            "lot_dir": str(lot_dir.relative_to(out)),
            "engine_problems": problems,
        }
