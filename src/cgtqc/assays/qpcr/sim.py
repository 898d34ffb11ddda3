"""Simulated qPCR with known truth: amplification curves, RDML files and instrument Cq tables.

Amplification follows a substrate-limited growth model: ``N[c+1] = N[c] * (1 + e * (1 - (N[c]/N_max)**2))``,
so the efficiency is ``1 + e`` in the exponential phase and falls to zero at the plateau. ``N_max`` is set so
that the growth limit agrees with LinRegPCR's copy limit of a 20 µL hydrolysis-probe reaction (250 nM primer),
which makes LinRegPCR's N0 estimate comparable with the simulated copies. Fluorescence is
``background + drift * c + gain * N + noise``. Template copies per reaction are Poisson, so replicate hit
rates near the LOD are realistic. Cq tables place a reaction's Cq where ``N`` reaches a threshold
(``log(threshold/N0)/log(1+e)`` plus Cq noise); a reaction without template is undetermined.
Every generator takes a ``numpy.random.Generator`` or a seed: the same seed gives the same files.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cgtqc.assays.qpcr.cq_tables import CqRecord

N_MAX = 1.23e12
THRESHOLD_COPIES = 1e9
RNG = np.random.Generator | int | None


def _rng(rng: RNG) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def amplification_curve(
    n0: float,
    efficiency: float = 1.95,
    cycles: int = 40,
    background: float = 5000.0,
    drift: float = -10.0,
    gain: float = 2e6 / N_MAX,
    noise_sd: float = 15.0,
    rng: RNG = None,
) -> np.ndarray:
    """Fluorescence at cycles 1..``cycles`` for ``n0`` copies and amplification factor ``efficiency``."""
    gen = _rng(rng)
    e = efficiency - 1.0
    n = float(n0)
    out = np.empty(cycles)
    for c in range(cycles):
        n = n * (1.0 + e * (1.0 - (n / N_MAX) ** 2))
        out[c] = background + drift * (c + 1) + gain * n
    return out + gen.normal(0.0, noise_sd, cycles)


def cq_for(copies: int, efficiency: float, cq_sd: float, gen: np.random.Generator) -> float | None:
    """Threshold Cq for a reaction holding ``copies`` templates (None without template)."""
    if copies <= 0:
        return None
    return math.log(THRESHOLD_COPIES / copies) / math.log(efficiency) + float(gen.normal(0.0, cq_sd))


@dataclass
class SimWell:
    """One simulated reaction with its truth."""

    well: str
    sample: str
    target: str
    task: str = "unkn"
    copies_mean: float = 0.0
    copies: int = 0
    efficiency: float = 1.95
    quantity: float | None = None
    cq: float | None = None
    fluor: np.ndarray = field(default_factory=lambda: np.zeros(0))


def well_names(n: int, columns: int = 12) -> list[str]:
    return [f"{chr(ord('A') + i // columns)}{i % columns + 1}" for i in range(n)]


def plate(
    layout: Sequence[tuple[str, str, str, float, float | None]],
    efficiency: dict[str, float] | None = None,
    cq_sd: float = 0.15,
    curves: bool = False,
    cycles: int = 40,
    rng: RNG = 0,
) -> list[SimWell]:
    """Simulate wells from (sample, target, task, mean copies per reaction, standard quantity) rows."""
    gen = _rng(rng)
    names = well_names(len(layout), 12 if len(layout) <= 96 else 24)
    wells = []
    for name, (sample, target, task, mean_copies, quantity) in zip(names, layout, strict=True):
        eff = (efficiency or {}).get(target, 1.95)
        copies = int(gen.poisson(mean_copies)) if mean_copies < 1e6 else int(round(mean_copies))
        w = SimWell(
            name, sample, target, task, mean_copies, copies, eff, quantity, cq_for(copies, eff, cq_sd, gen)
        )
        if curves:
            w.fluor = amplification_curve(copies, eff, cycles=cycles, rng=gen)
        wells.append(w)
    return wells


def records(wells: Sequence[SimWell]) -> list[CqRecord]:
    return [CqRecord(w.well, w.sample, w.target, w.task, w.cq, w.quantity) for w in wells]


_QS_TASK = {"unkn": "UNKNOWN", "std": "STANDARD", "ntc": "NTC", "pos": "POSITIVE CONTROL", "nrt": "NRT"}
_CFX_TASK = {"unkn": "Unkn", "std": "Std", "ntc": "NTC", "pos": "Pos Ctrl", "nrt": "NRT"}


def _qs_rows(wells: Sequence[SimWell]) -> tuple[list[str], list[list[str]]]:
    header = [
        "Well",
        "Well Position",
        "Omit",
        "Sample Name",
        "Target Name",
        "Task",
        "Reporter",
        "Quencher",
        "CT",
        "Quantity",
        "Amp Status",
    ]
    rows = []
    for i, w in enumerate(wells):
        rows.append(
            [
                str(i + 1),
                w.well,
                "false",
                w.sample,
                w.target,
                _QS_TASK[w.task],
                "FAM",
                "NFQ-MGB",
                "Undetermined" if w.cq is None else f"{w.cq:.3f}",
                "" if w.quantity is None else f"{w.quantity:g}",
                "NO_AMP" if w.cq is None else "AMP",
            ]
        )
    return header, rows


_QS_META = [
    "* Block Type = 96-Well Block (0.2mL)",
    "* Chemistry = TAQMAN",
    "* Experiment Name = cgtqc simulated run",
    "* Instrument Type = QuantStudio(TM) 5 System",
    "* Quantification Cycle Method = Ct",
    "",
]


def write_quantstudio_csv(path: str | Path, wells: Sequence[SimWell]) -> Path:
    """QuantStudio 'Results' export: '* key = value' metadata, a [Results] section, comma separated."""
    header, rows = _qs_rows(wells)
    buf = io.StringIO()
    buf.write("\n".join(_QS_META) + "\n[Results]\n")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    Path(path).write_text(buf.getvalue(), encoding="utf-8")
    return Path(path)


def write_quantstudio_xlsx(path: str | Path, wells: Sequence[SimWell]) -> Path:
    """QuantStudio results workbook: sheet 'Results' with metadata rows above the table."""
    from openpyxl import Workbook

    header, rows = _qs_rows(wells)
    wb = Workbook()
    ws = wb.active
    ws.title = "Results"
    for line in _QS_META:
        ws.append([line] if line else [])
    ws.append(header)
    for r in rows:
        ws.append([float(v) if k in (8, 9) and v not in ("", "Undetermined") else v for k, v in enumerate(r)])
    buf = io.BytesIO()
    wb.save(buf)
    Path(path).write_bytes(_reproducible_zip(buf.getvalue()))
    return Path(path)


_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _reproducible_zip(data: bytes) -> bytes:
    """The same archive with fixed entry times and document dates, so a seed gives byte-identical files."""
    import re

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                stamp = rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*"
                body = re.sub(stamp, rb"\g<1>2000-01-01T00:00:00Z", body)
            dst.writestr(zipfile.ZipInfo(info.filename, _FIXED_ZIP_TIME), body, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def write_cfx_csv(path: str | Path, wells: Sequence[SimWell]) -> Path:
    """Bio-Rad CFX 'Quantification Cq Results' CSV (leading index column, NaN for no Cq)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        [
            "",
            "Well",
            "Fluor",
            "Target",
            "Content",
            "Sample",
            "Biological Set Name",
            "Cq",
            "Cq Mean",
            "Cq Std. Dev",
            "Starting Quantity (SQ)",
            "Log Starting Quantity",
            "SQ Mean",
            "SQ Std. Dev",
            "Set Point",
            "Well Note",
        ]
    )
    for w in wells:
        well = f"{w.well[0]}{int(w.well[1:]):02d}"
        q = "" if w.quantity is None else f"{w.quantity:g}"
        lq = "" if w.quantity is None else f"{math.log10(w.quantity):.3f}"
        writer.writerow(
            [
                "",
                well,
                "FAM",
                w.target,
                _CFX_TASK[w.task],
                w.sample,
                "",
                "NaN" if w.cq is None else f"{w.cq:.2f}",
                "",
                "",
                q,
                lq,
                "",
                "",
                "60",
                "",
            ]
        )
    Path(path).write_text(buf.getvalue(), encoding="utf-8")
    return Path(path)


def write_rdml(
    path: str | Path,
    wells: Sequence[SimWell],
    version: str = "1.4",
    zipped: bool = True,
    chemistry: str = "hydrolysis probe",
) -> Path:
    """An RDML file of the wells (amplification points when simulated with curves, and Cq)."""
    return write_rdml_runs(path, [("Simulated", "Run 1", wells)], version, zipped, chemistry)


def write_rdml_runs(
    path: str | Path,
    runs: Sequence[tuple[str, str, Sequence[SimWell]]],
    version: str = "1.4",
    zipped: bool = True,
    chemistry: str = "hydrolysis probe",
) -> Path:
    """An RDML file with several runs, each ``(experiment id, run id, wells)``; runs of one experiment
    are written inside one ``<experiment>`` element (in order of first appearance)."""
    from xml.sax.saxutils import quoteattr

    every = [w for _, _, ws in runs for w in ws]
    targets = list(dict.fromkeys(w.target for w in every))
    samples = {w.sample: w for w in every}
    rows, cols = (8, 12) if max(len(ws) for _, _, ws in runs) <= 96 else (16, 24)
    v10 = version == "1.0"  # 1.0: dye as target text, plate format as text, reactions named by well
    out = [f'<rdml xmlns="http://www.rdml.org" version="{version}">']
    if not v10:
        chem = f"<dyeChemistry>{chemistry}</dyeChemistry>" if version >= "1.3" else ""
        out.append(f'<dye id="FAM">{chem}</dye>')
    for s, w in samples.items():
        q = (
            ""
            if w.quantity is None
            else f"<quantity><value>{w.quantity:g}</value><unit>cop</unit></quantity>"
        )
        ds = "<doubleStranded>true</doubleStranded>" if version >= "1.3" else ""
        out.append(f"<sample id={quoteattr(s)}><type>{w.task}</type>{q}{ds}</sample>")
    dye = "<dyeId>FAM</dyeId>" if v10 else '<dyeId id="FAM"/>'
    out += [f"<target id={quoteattr(t)}><type>toi</type>{dye}</target>" for t in targets]
    fmt = (
        f"<pcrFormat>{'96-well plate; A1-H12' if cols == 12 else '384-well plate; A1-P24'}</pcrFormat>"
        if v10
        else f"<pcrFormat><rows>{rows}</rows><columns>{cols}</columns><rowLabel>ABC</rowLabel>"
        "<columnLabel>123</columnLabel></pcrFormat>"
    )
    experiments = list(dict.fromkeys(e for e, _, _ in runs))
    for exp in experiments:
        out.append(f"<experiment id={quoteattr(exp)}>")
        for _, run_id, ws in (r for r in runs if r[0] == exp):
            out.append(f"<run id={quoteattr(run_id)}>{fmt}")
            for w in ws:
                pos = w.well if v10 else str((ord(w.well[0]) - ord("A")) * cols + int(w.well[1:]))
                adp = "".join(
                    f"<adp><cyc>{c + 1}</cyc><fluor>{f:.3f}</fluor></adp>" for c, f in enumerate(w.fluor)
                )
                cq = f"<cq>{w.cq:.3f}</cq>" if w.cq is not None else "<cq>-1</cq>"
                out.append(
                    f'<react id="{pos}"><sample id={quoteattr(w.sample)}/>'
                    f"<data><tar id={quoteattr(w.target)}/>{cq}{adp}</data></react>"
                )
            out.append("</run>")
        out.append("</experiment>")
    out.append("</rdml>")
    xml = "\n".join(out).encode("utf-8")
    path = Path(path)
    if zipped:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(zipfile.ZipInfo("rdml_data.xml", _FIXED_ZIP_TIME), xml, zipfile.ZIP_DEFLATED)
    else:
        path.write_bytes(xml)
    return path


def replicate_layout(
    samples: Sequence[tuple[str, str, str, float, float | None]], replicates: int
) -> list[tuple[str, str, str, float, float | None]]:
    """Repeat each layout row ``replicates`` times (adjacent wells)."""
    return [row for row in samples for _ in range(replicates)]


def standard_series(
    target: str, top: float = 1e6, levels: int = 6, step: float = 10.0, replicates: int = 3
) -> list[tuple[str, str, str, float, float | None]]:
    """Serial dilution standards of ``target`` (quantity = mean copies per reaction)."""
    rows = [(f"STD {k + 1}", target, "std", top / step**k, top / step**k) for k in range(levels)]
    return replicate_layout(rows, replicates)


def hit_rate_series(
    concentrations: Sequence[float],
    replicates: int,
    efficiency: float = 1.95,
    cq_cutoff: float = 40.0,
    rng: RNG = 0,
) -> list[tuple[float, int, int]]:
    """(concentration, detected, replicates) per level, Poisson template sampling at each concentration."""
    gen = _rng(rng)
    out = []
    for c in concentrations:
        hits = 0
        for _ in range(replicates):
            cq = cq_for(int(gen.poisson(c)), efficiency, 0.3, gen)
            hits += cq is not None and cq <= cq_cutoff
        out.append((float(c), hits, replicates))
    return out


Layout = list[tuple[str, str, str, float, float | None]]


def mycoplasma_layout(
    sample: str,
    contaminated_copies: float = 0.0,
    ic_copies: float = 500.0,
    inhibition_cycles: float = 0.0,
    positive_control_copies: float = 100.0,
) -> Layout:
    """Mycoplasma NAT plate: sample x3 (Mycoplasma and internal control), NTC x2, positive control x2.

    Inhibition delays the internal control in the sample by ``inhibition_cycles`` (fewer effective copies).
    """
    ic_in_sample = ic_copies / 2.0**inhibition_cycles
    return [
        *replicate_layout([(sample, "Mycoplasma", "unkn", contaminated_copies, None)], 3),
        *replicate_layout([(sample, "IC", "unkn", ic_in_sample, None)], 3),
        *replicate_layout(
            [("NTC", "Mycoplasma", "ntc", 0.0, None), ("NTC", "IC", "ntc", ic_copies, None)], 2
        ),
        *replicate_layout([("M. orale 10 CFU/mL", "Mycoplasma", "pos", positive_control_copies, None)], 2),
    ]


def virus_panel_layout(
    sample: str,
    targets: Sequence[str],
    lods: dict[str, float],
    present: dict[str, float] | None = None,
    ic_copies: float = 500.0,
) -> Layout:
    """Adventitious-virus panel: sample x2 per target, NTC and pseudovirus positive control (3 x LOD)."""
    rows: Layout = []
    for t in targets:
        rows += replicate_layout([(sample, t, "unkn", (present or {}).get(t, 0.0), None)], 2)
        rows += [("NTC", t, "ntc", 0.0, None), (f"{t} pseudovirus", t, "pos", 3.0 * lods[t], None)]
    rows += replicate_layout(
        [(sample, "IC", "unkn", ic_copies, None), ("NTC", "IC", "ntc", ic_copies, None)], 2
    )
    return rows


def tert_layout(sample: str, tert_copies: float = 0.0, reference_copies: float = 2e5) -> Layout:
    """TERT RT-qPCR: sample x3 (TERT, GAPDH), no-RT, NTC, TERT-positive cell-line RNA x2."""
    return [
        *replicate_layout([(sample, "TERT", "unkn", tert_copies, None)], 3),
        *replicate_layout([(sample, "GAPDH", "unkn", reference_copies, None)], 3),
        (sample, "TERT", "nrt", 0.0, None),
        ("NTC", "TERT", "ntc", 0.0, None),
        *replicate_layout([("HEK293 RNA", "TERT", "pos", 2000.0, None)], 2),
    ]


HOST_DNA_COPIES_PER_PG = 300.0  # multi-copy host target (e.g. Alu) copies per pg genomic DNA


def host_dna_layout(
    sample: str,
    pg_per_reaction: float,
    spike_pg: float = 30.0,
    standards_pg: Sequence[float] = (3000.0, 300.0, 30.0, 3.0, 0.3),
) -> Layout:
    """Host-DNA plate: genomic-DNA standards x3 (pg/reaction), sample x3, spiked sample x3, NTC x2."""
    k = HOST_DNA_COPIES_PER_PG
    rows: Layout = []
    for i, pg in enumerate(standards_pg):
        rows += replicate_layout([(f"STD {i + 1}", "hostDNA", "std", pg * k, pg)], 3)
    rows += replicate_layout([(sample, "hostDNA", "unkn", pg_per_reaction * k, None)], 3)
    rows += replicate_layout(
        [(f"{sample} + spike", "hostDNA", "unkn", (pg_per_reaction + spike_pg) * k, None)], 3
    )
    rows += replicate_layout([("NTC", "hostDNA", "ntc", 0.0, None)], 2)
    return rows
