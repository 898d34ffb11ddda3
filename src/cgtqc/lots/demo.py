"""`cgtqc demo`: a complete workspace in one command.

Users with the four roles, one lot per modality, results taken from the registered engines run on raw files
their own simulators wrote (every engine of the registry that emits a CQA of the product's specification)
and typical manual entries for the rest, then evaluation, review,
signatures and a certificate of analysis per lot. One lot is out of specification and rejected; others
are released after second-person review and a QA signature; one is released with a rapid sterility result
pending and completed afterwards.
"""

from __future__ import annotations

import shutil
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cgtqc import __version__
from cgtqc.engines import EngineSpec, registry
from cgtqc.errors import DispositionError
from cgtqc.lots import disposition, service, signatures
from cgtqc.lots.coa import write_coa
from cgtqc.lots.isbt128 import check_character
from cgtqc.results import Measurement, Provenance
from cgtqc.specs import templates
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
    overrides: dict[str, float | str] = field(default_factory=dict)
    pending: tuple[str, ...] = ()
    truth: dict[str, dict] = field(default_factory=dict)  # engine name -> truth given to its simulator


LOTS = [
    DemoLot("car_t", "CART-26-0101", "Basel (central)", "released", pending=("sterility_rapid",)),
    DemoLot("lv_hsc", "LVHSC-26-0042", "Basel (central)", "review", overrides={"vcn": 4.3}),
    DemoLot("crispr_hsc", "EDHSC-26-0007", "Boston (point of care)", "released"),
    # a clean AAV lot: less plasmid backbone and rep/cap than the simulator's typical lot mix (2%, 1.5%)
    DemoLot(
        "aav", "AAV9-26-0315", "Durham", "released",
        truth={"aav": {"weights": {"backbone": 0.01, "repcap": 0.008}}},
    ),
    DemoLot("lv_vector", "LVV-26-0088", "Durham", "open"),
    DemoLot("msc", "MSC-26-0019", "Leiden", "rejected", overrides={"viability": 68.4}),
]


def _seed(seed: int, *parts: str) -> int:
    """A seed per lot and test, stable across runs and independent of the order tests are simulated in."""
    return (seed * 1_000_003 + zlib.crc32("/".join(parts).encode())) % 2**32


def demo_engines(cqa: str) -> list[EngineSpec]:
    """Engines with a simulator that emit ``cqa``: cgtqc's own first, then installed lab packages."""
    found = [e for e in registry().for_cqa(cqa) if e.simulate is not None]
    return sorted(found, key=lambda e: (not e.origin.startswith("cgtqc."), e.name))


MAX_RUNS = 3  # an invalid assay run (a failed system-suitability or control check) is repeated, as in a lab


def simulated_test(
    engine: EngineSpec, cqa: str, product: str, folder: Path, seed: int, truth: dict | None
) -> tuple[list[Measurement], tuple[str, ...]]:
    """Simulate and run one test; repeat an invalid run on a new simulated run, noting why on the results.
    Returns the measurements and the CQAs the simulated test covers."""
    invalid: list[str] = []
    for attempt in range(1, MAX_RUNS + 1):
        run_dir = folder / f"run{attempt}"
        sim = engine.make_simulated(run_dir, _seed(seed, str(attempt)), cqa, product, truth)
        result = engine.execute(sim.inputs, sim.params, run_dir / "out")
        bad = sorted({c.name for m in result.measurements for c in m.failed_checks})
        if not bad or attempt == MAX_RUNS:
            break
        invalid.append(f"run {attempt} invalid ({', '.join(bad)})")
    if invalid:
        for m in result.measurements:
            m.note = "; ".join(filter(None, [m.note, f"repeat: {'; '.join(invalid)}"]))
    return result.measurements, sim.cqas


def engine_measurements(
    product: str, lot_number: str, out: Path, seed: int, truth: dict[str, dict] | None = None
) -> tuple[list[Measurement], list[str]]:
    """For each CQA of the product's specification that an engine computes: simulate its raw files, run the
    engine on them and keep its measurements. Returns them and any failures (which must not hide the rest)."""
    found: list[Measurement] = []
    problems: list[str] = []
    covered: set[str] = set()
    for line in templates()[product].lines:
        engines = demo_engines(line.cqa)
        if line.cqa in covered or not engines:
            continue
        engine = engines[0]
        folder = out / "raw" / lot_number / f"{engine.name}-{line.cqa}"
        try:
            measurements, cqas = simulated_test(
                engine, line.cqa, product, folder, _seed(seed, lot_number, engine.name, line.cqa),
                (truth or {}).get(engine.name),
            )
        except Exception as exc:  # an engine failing must not hide the others; reported in the summary
            problems.append(f"{engine.name} ({line.cqa}): {type(exc).__name__}: {exc}")
            continue
        for m in measurements:
            if m.cqa not in covered:
                m.sample = m.sample or lot_number
                found.append(m)
                covered.add(m.cqa)
        covered.update(cqas)
    return found, problems


def _din(sequence: int) -> tuple[str, str]:
    din = f"W1234{26:02d}{sequence:06d}"
    return f"{din}{check_character(din)}", f"COI-{din}"


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
    summary = []
    for i, d in enumerate(LOTS):
        engine_ms, problems = engine_measurements(d.product, d.lot_number, out, seed + i, d.truth)
        summary.append(_run_lot(url, d, engine_ms, out, i + 1, problems))
        for p in problems:
            console.print(f"[yellow]warning:[/] {d.lot_number}: {p}", highlight=False)
    with session_scope(url) as s:
        intact = not audit.verify(s) and not signatures.verify_signatures(s)
        n_entries = len(audit.log(s))
    table = Table(
        "lot",
        "product",
        "tests",
        "pass",
        "OOS",
        "OOT",
        "pending",
        "from engines",
        "disposition",
        "CoA",
        title="cgtqc demo",
    )
    for r in summary:
        table.add_row(
            r["lot"],
            r["product"],
            str(r["tests"]),
            str(r["pass"]),
            str(r["fail"]),
            str(r["oot"]),
            str(r["pending"]),
            str(r["from_engines"]),
            r["status"],
            r["coa_pdf"],
        )
    if not console.is_terminal:  # a log or CI: do not squeeze the summary into 80 columns
        console = Console(width=140)
    console.print(table)
    console.print(
        f"workspace {out}: database {out / 'cgtqc.db'}, users {', '.join(u for u, _, _ in USERS)} "
        f"(password {PASSWORD!r}); audit trail {'intact' if intact else 'BROKEN'} ({n_entries} entries)"
    )
    return summary


def _run_lot(
    url: str, d: DemoLot, engine_ms: list[Measurement], out: Path, seq: int, problems: list[str]
) -> dict:
    spec = templates()[d.product]
    by_cqa = {m.cqa: m for m in engine_ms}
    with session_scope(url) as s:
        din, coi = _din(seq) if d.product in service.AUTOLOGOUS_PRODUCTS else (None, None)
        service.create_lot(s, "alice", d.lot_number, d.product, d.site, din=din, coi_id=coi)
        from_engines = 0
        for line in spec.lines:
            if line.cqa in d.pending:
                m = Measurement(line.cqa, None, line.unit, Provenance("manual-entry", __version__, {}))
                service.add_result(
                    s,
                    "alice",
                    d.lot_number,
                    m,
                    line.stage,
                    rationale="Rapid sterility (Ph. Eur. 2.6.27) reads at day 7; shelf life is "
                    "shorter. Released at risk under the approved protocol.",
                )
                continue
            overridden = line.is_release and line.cqa in d.overrides
            released_cqas = {ln.cqa for ln in spec.release_lines}
            # an engine result serves the release test, or the in-process test of a CQA not tested at release
            if line.cqa in by_cqa and not overridden and (line.is_release or line.cqa not in released_cqas):
                m = by_cqa[line.cqa]
                from_engines += 1
            else:
                value = d.overrides[line.cqa] if overridden else TYPICAL[line.cqa]
                m = Measurement(
                    line.cqa,
                    value,
                    line.unit,
                    Provenance("manual-entry", __version__, {"entered_by": "alice"}),
                )
            service.add_result(s, "alice", d.lot_number, m, line.stage)
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
    if d.plan == "released" and d.pending and not problems:
        with session_scope(url) as s:
            for cqa in d.pending:
                m = Measurement(
                    cqa, TYPICAL[cqa], "", Provenance("manual-entry", __version__, {"entered_by": "alice"})
                )
                service.add_result(s, "alice", d.lot_number, m)
    html, pdf = out / "coa" / f"{d.lot_number}.html", out / "coa" / f"{d.lot_number}.pdf"
    with session_scope(url) as s:
        write_coa(s, d.lot_number, html, pdf)
        lot = service.get_lot(s, d.lot_number)
        ev = disposition.evaluate_lot(s, lot)
        counts = {
            v: sum(o.evaluation.verdict == v for o in ev.outcomes) for v in ("pass", "fail", "oot", "pending")
        }
        return {
            "lot": d.lot_number,
            "product": d.product,
            "tests": len(ev.outcomes),
            **counts,
            "from_engines": from_engines,
            "status": lot.status,
            "coa_pdf": str(pdf.relative_to(out)),
            "engine_problems": problems,
        }
