"""Longitudinal integration-site report of one patient: clones over timepoints, diversity trend, safety
flags, VCN over time, and the CQAs of the LV-HSC follow-up (one set per timepoint).

Pure: it takes site tables already read and VCN points already fetched (the command line reads the store)
and returns a report object, its HTML (Jinja2, plots embedded as PNG) and its JSON.

Clones are matched across timepoints by chromosome, strand and position within ``match_window_bp``
(default 5 bp, the caller's collapse window; never across strands): a chain of positions each within
the window of the next is one clone, named by the ``posid`` with the most theta over all timepoints.
Relative abundance is the ``relative`` column as the caller wrote it: theta over all of the sample's theta,
multihit groups included, so the unique sites may sum to less than 1 (the rest is drawn as "other").
Diversity indices use the theta of the unique sites.

CQAs per timepoint: ``integration_top_clone_pct`` (largest clone, %), ``integration_sites_near_oncogenes``
(sites within the AE window of an adverse-event gene's body, which includes its TSS; None when no gene
annotation was applied, since 0 would falsely reassure) and ``integration_shannon`` (natural log, by theta).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cgtqc import __version__
from cgtqc.errors import InputError
from cgtqc.plotting import pyplot
from cgtqc.results import Measurement, Provenance, ValidityCheck, atomic_write, file_input, to_json
from cgtqc.seq.integration.diversity import diversity
from cgtqc.seq.integration.genes import GeneSet
from cgtqc.seq.integration.safety import (
    AE_BODY,
    RISING,
    SHARED,
    RisingClone,
    SafetyRules,
    SharedSite,
    assess_sites,
    rising_clones,
    shared_sites,
)
from cgtqc.seq.integration.sitetable import SiteTable

ENGINE = "integration-report"
CQA_TOP = "integration_top_clone_pct"
CQA_AE = "integration_sites_near_oncogenes"
CQA_SHANNON = "integration_shannon"


@dataclass(frozen=True)
class Timepoint:
    """One sample of the patient: its label (e.g. ``month 6``), its sites and its ``summary.json``."""

    label: str
    sites: SiteTable
    summary: dict[str, Any] | None = None


@dataclass(frozen=True)
class VcnPoint:
    """A stored VCN result of one of the patient's lots."""

    lot: str
    stage: str
    value: float
    unit: str
    when: str  # ISO date of the result (or the lot's manufacture)


@dataclass
class LongitudinalReport:
    """Everything the HTML and the JSON show."""

    patient: str
    labels: list[str]
    n_sites: list[int]
    diversity: list[dict[str, Any]]
    clones: list[dict[str, Any]]  # top clones, with relative per timepoint
    other: list[float]  # relative of every clone outside the top, per timepoint
    flag_counts: list[dict[str, int]]
    ae_checked: list[bool]
    rising: list[RisingClone]
    shared: list[SharedSite]
    vcn: list[VcnPoint]
    measurements: list[list[Measurement]]
    rules: SafetyRules
    top: int
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "patient": self.patient,
            "timepoints": [
                {
                    "label": lab,
                    "n_sites": n,
                    "diversity": d,
                    "flag_counts": fc,
                    "ae_genes_checked": ae,
                    "cqas": [m.to_dict() for m in ms],
                }
                for lab, n, d, fc, ae, ms in zip(
                    self.labels,
                    self.n_sites,
                    self.diversity,
                    self.flag_counts,
                    self.ae_checked,
                    self.measurements,
                    strict=True,
                )
            ],
            "top_clones": self.clones,
            "other_relative": self.other,
            "rising_clones": [
                {"clone": r.site, "timepoints": list(r.timepoints), "relative": list(r.relative)}
                for r in self.rising
            ],
            "shared_sites": [s.__dict__ for s in self.shared],
            "vcn": [v.__dict__ for v in self.vcn],
            "rules": {**self.rules.to_dict(), "top": self.top},
            "generated_at": self.generated_at,
            "cgtqc_version": __version__,
        }

    def cqa_document(self) -> dict[str, Any]:
        """The CQA JSON: one Measurement per CQA and timepoint (``sample`` is the timepoint label)."""
        return {
            "patient": self.patient,
            "product": "lv_hsc",
            "measurements": [m.to_dict() for ms in self.measurements for m in ms],
        }


def _clone_ids(timepoints: Sequence[Timepoint], window: int) -> list[list[str]]:
    """Clone id of every site of every timepoint (chains of positions within ``window``, per strand)."""
    rows: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
    for t, tp in enumerate(timepoints):
        s = tp.sites
        for i in range(len(s)):
            rows.setdefault((s.chrom[i], s.strand[i]), []).append((int(s.position[i]), t, i))
    ids: list[list[str]] = [[""] * len(tp.sites) for tp in timepoints]
    for key in rows:
        group = sorted(rows[key])
        start = 0
        for j in range(1, len(group) + 1):
            if j == len(group) or group[j][0] - group[j - 1][0] > window:
                members = group[start:j]
                best = max(members, key=lambda m: (timepoints[m[1]].sites.theta[m[2]], -m[1]))
                name = timepoints[best[1]].sites.posid[best[2]]
                for _, t, i in members:
                    ids[t][i] = name
                start = j
    return ids


def _ae_checked(tp: Timepoint) -> bool:
    """Whether the caller applied a gene annotation (``ae_genes_checked`` anywhere in summary.json)."""

    def find(d: Any) -> bool:
        if isinstance(d, dict):
            if d.get("ae_genes_checked") is True:
                return True
            return any(find(v) for v in d.values())
        return False

    return tp.summary is not None and find(tp.summary)


def build_report(
    timepoints: Sequence[Timepoint],
    patient: str = "",
    *,
    genes: GeneSet | None = None,
    rules: SafetyRules = SafetyRules(),
    top: int = 10,
    match_window_bp: int = 5,
    vcn: Sequence[VcnPoint] = (),
    other_patients: Mapping[str, Sequence[SiteTable]] | None = None,
) -> LongitudinalReport:
    """Build the report. ``genes`` re-derives every flag from the coordinates (else the ``flags``
    column of each sites.tsv is used for the AE genes); ``other_patients`` are checked for shared sites."""
    if not timepoints:
        raise InputError("no timepoint given")
    labels = [tp.label for tp in timepoints]
    if len(set(labels)) != len(labels):
        raise InputError(f"timepoint labels repeat: {', '.join(labels)}")
    if top < 1:
        raise InputError(f"top {top} must be >= 1")
    ids = _clone_ids(timepoints, match_window_bp)
    series: dict[str, dict[str, float]] = {}
    per_tp_flags: list[list[list[str]]] = []
    divs, checked = [], []
    for t, tp in enumerate(timepoints):
        s = tp.sites
        rel: dict[str, float] = {}
        for i, cid in enumerate(ids[t]):
            rel[cid] = rel.get(cid, 0.0) + float(s.relative[i])
        series[tp.label] = rel
        if genes is not None:
            flags = assess_sites(s.chrom, s.position, s.relative, genes, rules).flags
            checked.append(True)
        else:
            base = assess_sites(s.chrom, s.position, s.relative, None, rules).flags
            ae = [[f for f in fl if f.split(":", 1)[0] in ("ae_gene_tss", AE_BODY)] for fl in s.flags]
            flags = [b + a for b, a in zip(base, ae, strict=True)]
            checked.append(_ae_checked(tp) or any(ae))
        per_tp_flags.append(flags)
        lengths = s.unique_lengths
        use_counts = lengths is not None and bool(np.all(lengths[s.theta > 0] >= 1))
        try:
            d = diversity(s.theta, counts=lengths[s.theta > 0] if use_counts else None).to_dict()
        except InputError as exc:
            raise InputError(exc.message, file=s.path) from None
        d["abundance"] = "sonicLength theta of the unique sites" + (
            "; Chao1 from unique fragment lengths" if use_counts else ""
        )
        divs.append(d)
    rising = rising_clones(series, rules)
    rising_ids = {r.site for r in rising}
    shared: list[SharedSite] = []
    if other_patients:
        me = patient or "this patient"
        sets = {
            me: [
                (s.posid[i], s.chrom[i], s.strand[i], int(s.position[i]))
                for tp in timepoints
                for s in [tp.sites]
                for i in range(len(s))
            ]
        }
        for pid, tables in other_patients.items():
            if pid == me:
                raise InputError(f"other patient {pid!r} has this patient's id")
            sets[pid] = [
                (s.posid[i], s.chrom[i], s.strand[i], int(s.position[i]))
                for s in tables
                for i in range(len(s))
            ]
        shared = [x for x in shared_sites(sets, rules) if me in (x.patient_a, x.patient_b)]
    shared_posids: dict[str, set[str]] = {}
    for x in shared:
        mine, theirs = (
            (x.site_a, x.patient_b) if x.patient_a == (patient or "this patient") else (x.site_b, x.patient_a)
        )
        shared_posids.setdefault(mine, set()).add(theirs)
    # per clone: flags over all timepoints
    clone_flags: dict[str, list[str]] = {}
    clone_info: dict[str, dict[str, Any]] = {}
    for t, tp in enumerate(timepoints):
        s = tp.sites
        for i, cid in enumerate(ids[t]):
            fl = clone_flags.setdefault(cid, [])
            for f in per_tp_flags[t][i]:
                if f not in fl:
                    fl.append(f)
            if s.posid[i] in shared_posids:
                for pid in sorted(shared_posids[s.posid[i]]):
                    if f"{SHARED}:{pid}" not in fl:
                        fl.append(f"{SHARED}:{pid}")
            if cid == s.posid[i] or cid not in clone_info:
                clone_info[cid] = {
                    "chrom": s.chrom[i],
                    "strand": s.strand[i],
                    "position": int(s.position[i]),
                    "nearest_gene": s.nearest_gene[i],
                }
    for cid in rising_ids:
        clone_flags.setdefault(cid, []).append(RISING)
    peak = {cid: max(series[lab].get(cid, 0.0) for lab in labels) for cid in clone_flags}
    order = sorted(peak, key=lambda c: (-peak[c], c))
    chosen = order[:top]
    clones = [
        {
            "clone": cid,
            **clone_info[cid],
            "relative": [series[lab].get(cid, 0.0) for lab in labels],
            "peak_relative": peak[cid],
            "flags": clone_flags[cid],
        }
        for cid in chosen
    ]
    # "other": every clone outside the top, and the multihit groups (the relative column is of all theta)
    other = [
        max(0.0, max(1.0, sum(series[lab].values())) - sum(series[lab].get(c, 0.0) for c in chosen))
        for lab in labels
    ]
    flag_counts = []
    for t, _tp in enumerate(timepoints):
        fc: dict[str, int] = {}
        for fl in per_tp_flags[t]:
            for f in {x.split(":", 1)[0] for x in fl}:
                fc[f] = fc.get(f, 0) + 1
        fc[RISING] = sum(1 for cid in set(ids[t]) if cid in rising_ids)
        fc[SHARED] = sum(1 for p in timepoints[t].sites.posid if p in shared_posids)
        flag_counts.append(dict(sorted(fc.items())))
    params = {
        **rules.to_dict(),
        "top": top,
        "match_window_bp": match_window_bp,
        "genes": genes.source if genes is not None else None,
    }
    measurements = []
    for t, tp in enumerate(timepoints):
        s = tp.sites
        prov = Provenance(ENGINE, __version__, params, [file_input(s.path)])
        n = len(s)
        check = [ValidityCheck("unique sites", n > 0, f"{n} unique sites")]
        near = sum(any(f.split(":", 1)[0] == AE_BODY for f in fl) for fl in per_tp_flags[t])
        top_pct = 100.0 * float(s.relative.max())  # of all theta, multihit groups included
        measurements.append(
            [
                Measurement(
                    CQA_TOP,
                    top_pct,
                    "%",
                    prov,
                    check,
                    sample=tp.label,
                    note="largest clone by sonicLength theta",
                ),
                Measurement(
                    CQA_AE,
                    float(near) if checked[t] else None,
                    "sites",
                    prov,
                    check,
                    sample=tp.label,
                    note=f"within {rules.ae_window_bp} bp of an adverse-event gene's body or TSS"
                    if checked[t]
                    else "not assessed: no gene annotation (give --genes)",
                ),
                Measurement(
                    CQA_SHANNON,
                    float(divs[t]["shannon"]),
                    "",
                    prov,
                    check,
                    sample=tp.label,
                    note="natural log, by theta",
                ),
            ]
        )
    return LongitudinalReport(
        patient,
        labels,
        [len(tp.sites) for tp in timepoints],
        divs,
        clones,
        other,
        flag_counts,
        checked,
        rising,
        shared,
        list(vcn),
        measurements,
        rules,
        top,
    )


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def plots(report: LongitudinalReport) -> list[tuple[str, str, str]]:
    """(file stem, title, base64 PNG) of the stacked clone abundance, the diversity trend and the VCN."""
    plt = pyplot()
    out = []
    x = np.arange(len(report.labels))
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(x) + 3), 4.5))
    bottom = np.zeros(len(x))
    cmap = plt.get_cmap("tab20")
    for k, c in enumerate(report.clones):
        v = 100 * np.asarray(c["relative"])
        gene = f" ({c['nearest_gene']})" if c.get("nearest_gene") else ""
        ax.bar(x, v, bottom=bottom, color=cmap(k % 20), label=f"{c['clone']}{gene}", width=0.7)
        bottom += v
    ax.bar(
        x,
        100 * np.asarray(report.other),
        bottom=bottom,
        color="#cccccc",
        label="other (and multihits)",
        width=0.7,
    )
    ax.set_xticks(x, report.labels)
    ax.set_ylabel("relative abundance (% of theta)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    out.append(("clones", f"Clone abundance over time (top {report.top} and other)", _png(fig)))
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(x) + 3), 3.5))
    ax.plot(x, [d["shannon"] for d in report.diversity], "o-", color="#4a7ab5", label="Shannon")
    ax.set_ylabel("Shannon (nats)")
    ax.set_xticks(x, report.labels)
    ax2 = ax.twinx()
    ax2.plot(
        x,
        [ms[0].value for ms in report.measurements],
        "s--",
        color="#c0392b",
        label="top clone %",
    )
    ax2.axhline(100 * report.rules.dominant_fraction, color="#c0392b", lw=0.8, ls=":")
    ax2.set_ylabel("top clone (%)")
    ax.legend(loc="upper left", fontsize=8)
    ax2.legend(loc="upper right", fontsize=8)
    out.append(("diversity", "Diversity trend (dotted: dominant-clone threshold)", _png(fig)))
    if report.vcn:
        fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(report.vcn) + 3), 3.5))
        xv = np.arange(len(report.vcn))
        ax.plot(xv, [v.value for v in report.vcn], "o-", color="#2e8b57")
        ax.set_xticks(xv, [f"{v.lot}\n{v.stage}\n{v.when}" for v in report.vcn], fontsize=7)
        ax.set_ylabel(f"VCN ({report.vcn[0].unit})")
        out.append(("vcn", "VCN over time (stored ddPCR results of the patient's lots)", _png(fig)))
    return out


def render_html(report: LongitudinalReport, figures: list[tuple[str, str, str]] | None = None) -> str:
    """The report as one self-contained HTML page."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("cgtqc", "templates"), autoescape=select_autoescape(["html", "j2"])
    )
    return env.get_template("integration_report.html.j2").render(
        r=report, figures=figures if figures is not None else plots(report), version=__version__
    )


def write_report(report: LongitudinalReport, out_dir: str | Path) -> list[Path]:
    """Write ``report.html``, ``report.json``, ``cqas.json`` and one PNG per figure into ``out_dir``
    (each file complete or absent)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create: {exc.strerror or exc}", file=out) from None
    figs = plots(report)
    html = render_html(report, figs)
    written = []
    try:
        for stem, _title, b64 in figs:
            written.append(atomic_write(out / f"{stem}.png", base64.b64decode(b64)))
        written.append(atomic_write(out / "report.json", to_json(report.to_dict())))
        written.append(atomic_write(out / "cqas.json", to_json(report.cqa_document())))
        written.append(atomic_write(out / "report.html", html))
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror or exc}", file=out) from None
    return written
