"""% full capsids by methods other than sequencing, to show beside the sequencing read classes.

Sequencing sees only DNA-bearing capsids: its percentages are fractions of DNA-bearing reads. The methods
here count capsids, empty ones included, so their denominators differ:

* titer ratio: % full = 100 x vg titer / capsid titer (ddPCR or qPCR genome titer over capsid ELISA);
  the relative uncertainty is the root sum of squares of the two CVs.
* A260/A280 of denatured vector (Sommer et al., Mol Ther 2003): absorbance is the sum of capsid protein
  and DNA (two-component Beer-Lambert); solving the 2x2 system gives molar capsid and genome
  concentrations. Defaults: AAV2 capsid molar extinction 3.72e6 (280 nm) and 2.19e6 (260 nm)
  M^-1 cm^-1, DNA A280/A260 = 0.52, DNA mass extinction at 260 nm 0.020 (ug/mL)^-1 cm^-1 (50 ug/mL per
  A260 unit), genome molar mass from its length (330 g/mol per nucleotide; x2 for sc genomes).
  Set them for your serotype and genome.
* peak areas of an exported distribution (analytical ultracentrifugation c(s) in S, or mass photometry
  counts in kDa): trapezoid areas inside the empty / partial / full windows, each divided by a relative
  molar signal (AUC absorbance at 260 nm weighs full capsids more; interference and mass photometry
  counts weigh 1).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cgtqc.errors import InputError

AVOGADRO = 6.02214076e23
AUC_WINDOWS_S = {"empty": (55.0, 72.0), "partial": (72.0, 88.0), "full": (88.0, 115.0)}
CAPSID_KDA = 3740.0  # AAV capsid mass (60 VP subunits)


@dataclass
class FullnessEstimate:
    """% full (and empty/partial where known) capsids by one method, with its denominator."""

    method: str
    full_pct: float
    denominator: str
    empty_pct: float | None = None
    partial_pct: float | None = None
    ci95: tuple[float, float] | None = None
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "full_pct": self.full_pct,
            "empty_pct": self.empty_pct,
            "partial_pct": self.partial_pct,
            "ci95": self.ci95,
            "denominator": self.denominator,
            "details": self.details,
        }


def from_titers(
    vg_per_ml: float, capsids_per_ml: float, vg_cv: float = 0.0, capsid_cv: float = 0.0
) -> FullnessEstimate:
    """% full = vg / capsids; 95% CI from the two coefficients of variation (log-normal)."""
    if vg_per_ml <= 0 or capsids_per_ml <= 0:
        raise InputError("titers must be positive", place="vg/capsid titer")
    pct = 100.0 * vg_per_ml / capsids_per_ml
    cv = math.hypot(vg_cv, capsid_cv)
    ci = (pct * math.exp(-1.96 * cv), pct * math.exp(1.96 * cv)) if cv > 0 else None
    return FullnessEstimate(
        "vg titer / capsid titer",
        pct,
        "all capsids (capsid ELISA)",
        ci95=ci,
        details={
            "vg_per_ml": vg_per_ml,
            "capsids_per_ml": capsids_per_ml,
            "relative_sd": cv,
            "above_100": pct > 100,
        },
    )


def from_absorbance(
    a260: float,
    a280: float,
    genome_nt: int,
    self_complementary: bool = False,
    capsid_e280: float = 3.72e6,
    capsid_e260: float = 2.19e6,
    dna_ratio_280_260: float = 0.52,
    dna_mass_e260: float = 0.020,
    path_cm: float = 1.0,
) -> FullnessEstimate:
    """Sommer et al. 2003: capsid and genome molar concentrations from A260 and A280 of denatured vector."""
    if a260 <= 0 or a280 <= 0:
        raise InputError("absorbances must be positive", place="A260/A280")
    mw = genome_nt * 330.0 * (2 if self_complementary else 1)  # g/mol
    dna_e260 = dna_mass_e260 * 1000.0 * mw  # (ug/mL)^-1 = mL/ug → L/g x g/mol = M^-1
    m = np.array([[dna_e260, capsid_e260], [dna_e260 * dna_ratio_280_260, capsid_e280]]) * path_cm
    dna_m, cap_m = np.linalg.solve(m, np.array([a260, a280]))
    if cap_m <= 0 or dna_m < 0:
        raise InputError(
            f"A260/A280 = {a260 / a280:.3f} is outside the two-component model's range", place="A260/A280"
        )
    vg, cp = dna_m * AVOGADRO / 1000.0, cap_m * AVOGADRO / 1000.0  # per mL
    return FullnessEstimate(
        "A260/A280 (Sommer et al. 2003)",
        100.0 * vg / cp,
        "all capsids (capsid protein)",
        details={
            "a260_a280": a260 / a280,
            "vg_per_ml": vg,
            "capsids_per_ml": cp,
            "genome_molar_mass": mw,
            "capsid_e280": capsid_e280,
            "capsid_e260": capsid_e260,
            "dna_ratio_280_260": dna_ratio_280_260,
            "dna_mass_e260": dna_mass_e260,
        },
    )


def read_distribution(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Two numeric columns (x, signal) of a CSV/TSV export; a header line is skipped."""
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", file=p)
    xs, ys = [], []
    with open(p, newline="") as fh:
        sample = fh.read(2048)
        fh.seek(0)
        delim = "\t" if "\t" in sample else ","
        for n, row in enumerate(csv.reader(fh, delimiter=delim), 1):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                raise InputError("expected two columns (x, signal)", file=p, place=f"line {n}")
            try:
                x, y = float(row[0]), float(row[1])
            except ValueError as exc:
                if n == 1:
                    continue  # header
                raise InputError(f"non-numeric value {row[:2]}", file=p, place=f"line {n}") from exc
            if not (math.isfinite(x) and math.isfinite(y)):
                raise InputError("non-finite value", file=p, place=f"line {n}")
            xs.append(x)
            ys.append(y)
    if len(xs) < 3:
        raise InputError("fewer than 3 data points", file=p)
    order = np.argsort(xs)
    return np.asarray(xs)[order], np.asarray(ys)[order]


def mass_photometry_windows(
    genome_nt: int, self_complementary: bool = False
) -> dict[str, tuple[float, float]]:
    """kDa windows: empty around the capsid mass, full around capsid + genome, partial between."""
    genome_kda = genome_nt * 0.330 * (2 if self_complementary else 1)
    full = CAPSID_KDA + genome_kda
    return {
        "empty": (CAPSID_KDA * 0.9, CAPSID_KDA + 0.25 * genome_kda),
        "partial": (CAPSID_KDA + 0.25 * genome_kda, full - 0.2 * genome_kda),
        "full": (full - 0.2 * genome_kda, full * 1.1),
    }


def from_distribution(
    x: np.ndarray,
    y: np.ndarray,
    windows: dict[str, tuple[float, float]],
    method: str,
    molar_signal: dict[str, float] | None = None,
) -> FullnessEstimate:
    """Peak areas inside each window (trapezoid), divided by each species' relative molar signal."""
    molar_signal = molar_signal or {}
    areas = {}
    for name, (lo, hi) in windows.items():
        mask = (x >= lo) & (x <= hi)
        a = float(np.trapezoid(np.clip(y[mask], 0, None), x[mask])) if mask.sum() >= 2 else 0.0
        areas[name] = a / molar_signal.get(name, 1.0)
    total = sum(areas.values())
    if total <= 0:
        raise InputError(f"no signal inside the {method} windows {windows}")
    pct = {k: 100.0 * v / total for k, v in areas.items()}
    return FullnessEstimate(
        method,
        pct.get("full", 0.0),
        "all capsids in the integrated windows",
        empty_pct=pct.get("empty"),
        partial_pct=pct.get("partial"),
        details={"windows": windows, "molar_signal": molar_signal, "areas": areas},
    )


def beside_sequencing(estimates: list[FullnessEstimate], seq_full_genome_pct: float) -> list[dict]:
    """Rows for the report: each method's % full capsids and, combined with sequencing, the implied %
    of all capsids that hold a full-length genome (capsid % full x sequencing full-genome fraction)."""
    rows = [
        {
            "method": "long-read sequencing (full genomes)",
            "full_pct": seq_full_genome_pct,
            "denominator": "DNA-bearing capsids only (reads minus lambda spike-in)",
        }
    ]
    for e in estimates:
        rows.append({"method": e.method, "full_pct": e.full_pct, "denominator": e.denominator})
        rows.append(
            {
                "method": f"{e.method} x sequencing full-genome fraction",
                "full_pct": e.full_pct * seq_full_genome_pct / 100.0,
                "denominator": "all capsids: capsids holding a full-length genome",
            }
        )
    return rows


def estimates_from_inputs(
    genome_nt: int,
    self_complementary: bool,
    vg_titer: float | None = None,
    capsid_titer: float | None = None,
    a260: float | None = None,
    a280: float | None = None,
    auc: Path | None = None,
    mass_photometry: Path | None = None,
) -> list[FullnessEstimate]:
    """Every estimate the given inputs allow (titers, absorbances, AUC export, mass photometry export)."""
    out = []
    if (vg_titer is None) != (capsid_titer is None):
        raise InputError("give both the vg titer and the capsid titer", place="--vg-titer/--capsid-titer")
    if vg_titer is not None:
        out.append(from_titers(vg_titer, capsid_titer))
    if (a260 is None) != (a280 is None):
        raise InputError("give both A260 and A280", place="--a260/--a280")
    if a260 is not None:
        out.append(from_absorbance(a260, a280, genome_nt, self_complementary))
    if auc is not None:
        x, y = read_distribution(auc)
        out.append(from_distribution(x, y, AUC_WINDOWS_S, "AUC sedimentation c(s)"))
    if mass_photometry is not None:
        x, y = read_distribution(mass_photometry)
        out.append(
            from_distribution(x, y, mass_photometry_windows(genome_nt, self_complementary), "mass photometry")
        )
    return out
