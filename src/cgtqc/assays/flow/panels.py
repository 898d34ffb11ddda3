"""Flow panels that turn gate counts into release CQAs, each with named minimum-event checks.

- ``cd34``: ISHAGE single-platform CD34+ enumeration with counting beads and 7-AAD (basis of USP <127>):
  viable CD34+ per uL = (viable CD34+ events / bead events) x (beads per test / sample volume uL) x dilution;
  per product (x product volume) and per kg (/ patient weight); CD34+ viability; CD34+ % of viable CD45+.
- ``cart``: viability (of CD45+), CD3+ (% of viable CD45+), CAR+ (% of viable CD3+), CD4/CD8 ratio, and the
  CAR+ viable T-cell dose = total viable cells x fraction CD3+ x fraction CAR+.
- ``msc``: ISCT identity (each positive marker >= 95%, each negative marker <= 2% of viable cells), one
  verdict that lists every marker.
- ``transduction``: transduced (reporter+) % of viable cells, and the LV functional titer TU/mL when the
  transduction set-up is given.

Each panel reads gates by id from a GatingML template in ``assays/gating`` (or a lab's own file with the same
gate ids). Every percentage names its numerator and denominator gates and carries the Wilson 95% interval;
absolute counts and ratios carry a Poisson/delta-method interval on the log scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cgtqc import __version__
from cgtqc.assays.flow.engine import Z95, GatingReport, Percentage, gate_file
from cgtqc.errors import InputError
from cgtqc.results import Measurement, Provenance, ValidityCheck
from cgtqc.specs.rounding import round_decimals

GATING_DIR = Path(__file__).parent / "gating"
TEMPLATES = {
    "cd34": "cd34_ishage.xml",
    "cart": "cart.xml",
    "msc": "msc_isct.xml",
    "transduction": "transduction.xml",
}


def template_path(panel: str) -> Path:
    """The shipped GatingML 2.0 template of a panel."""
    if panel not in TEMPLATES:
        raise InputError(f"unknown panel {panel!r} (panels: {', '.join(TEMPLATES)})")
    return GATING_DIR / TEMPLATES[panel]


@dataclass
class PanelValue:
    """One figure a panel reports; ``cqa`` is its catalogue id, or None for a supporting figure."""

    name: str
    cqa: str | None
    value: float | str | None
    unit: str
    ci_low: float | None = None
    ci_high: float | None = None
    se: float | None = None
    basis: str = ""  # numerator / denominator or formula, with the event counts
    checks: list[ValidityCheck] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cqa": self.cqa,
            "value": self.value,
            "unit": self.unit,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "se": self.se,
            "basis": self.basis,
            "valid": self.valid,
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass(frozen=True)
class MarkerCall:
    """One ISCT marker: % of viable cells, the limit, the value rounded to the limit's decimals, verdict."""

    marker: str
    expected: str  # "positive" or "negative"
    percent: Percentage
    limit: float
    reported: float
    conforms: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "marker": self.marker,
            "expected": self.expected,
            "limit": (">= " if self.expected == "positive" else "<= ") + f"{self.limit:g}%",
            "reported": self.reported,
            "conforms": self.conforms,
            **{f"percent_{k}": v for k, v in self.percent.to_dict().items()},
        }


@dataclass
class PanelResult:
    """A panel's reported values, its validity checks, markers (MSC) and the gating it came from."""

    panel: str
    sample: str
    values: list[PanelValue]
    provenance: Provenance
    gating: GatingReport
    markers: list[MarkerCall] = field(default_factory=list)

    @property
    def checks(self) -> list[ValidityCheck]:
        seen: dict[str, ValidityCheck] = {}
        for v in self.values:
            for c in v.checks:
                seen.setdefault(c.name, c)
        return list(seen.values())

    @property
    def valid(self) -> bool:
        return all(c.passed for c in self.checks)

    def value(self, name: str) -> PanelValue:
        for v in self.values:
            if v.name == name:
                return v
        raise KeyError(f"panel {self.panel} reports no {name!r} (reports: {[v.name for v in self.values]})")

    def measurements(self) -> list[Measurement]:
        """The values with a catalogue CQA id, as Measurements carrying their own checks."""
        return [
            Measurement(
                cqa=v.cqa,
                value=v.value,
                unit=v.unit,
                provenance=self.provenance,
                checks=list(v.checks),
                ci_low=v.ci_low,
                ci_high=v.ci_high,
                sample=self.sample,
                note=v.basis,
            )
            for v in self.values
            if v.cqa is not None
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "panel": self.panel,
            "sample": self.sample,
            "valid": self.valid,
            "values": [v.to_dict() for v in self.values],
            "markers": [m.to_dict() for m in self.markers],
            "checks": [c.to_dict() for c in self.checks],
            "gates": [g.to_dict() for g in self.gating.gates],
            "provenance": self.provenance.to_dict(),
        }


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------


def min_events_check(name: str, count: int, minimum: int, what: str) -> ValidityCheck:
    """``count`` events of ``what`` must reach ``minimum``."""
    return ValidityCheck(name, count >= minimum, f"{count} {what} events (minimum {minimum})")


def percent_value(name: str, cqa: str | None, pct: Percentage, checks: list[ValidityCheck]) -> PanelValue:
    """A percentage with its Wilson interval and binomial SE, stating its denominator."""
    lo, hi = pct.ci
    return PanelValue(
        name,
        cqa,
        pct.value,
        "%",
        lo if pct.denominator_count else None,
        hi if pct.denominator_count else None,
        pct.se if pct.denominator_count else None,
        f"{pct.numerator} of {pct.denominator}: {pct.numerator_count}/{pct.denominator_count} events",
        checks,
    )


def log_interval(value: float, rel_se: float) -> tuple[float, float]:
    """95% interval of a positive estimate with relative SE ``rel_se`` (log-normal approximation)."""
    if not (value > 0 and math.isfinite(rel_se)):
        return (math.nan, math.nan)
    return (value * math.exp(-Z95 * rel_se), value * math.exp(Z95 * rel_se))


def scaled_value(
    name: str,
    cqa: str | None,
    value: float | None,
    unit: str,
    rel_se: float,
    basis: str,
    checks: list[ValidityCheck],
) -> PanelValue:
    """An absolute figure (count, ratio, dose) with its log-scale interval and SE."""
    if value is None or not math.isfinite(value):
        return PanelValue(name, cqa, None, unit, basis=basis, checks=checks)
    lo, hi = log_interval(value, rel_se)
    return PanelValue(name, cqa, value, unit, lo, hi, value * rel_se, basis, checks)


def _provenance(report: GatingReport, panel: str, params: dict[str, Any]) -> Provenance:
    return Provenance(
        f"flow.panel.{panel}",
        __version__,
        {**report.provenance.parameters, "panel": panel, **params},
        list(report.provenance.inputs),
    )


# --------------------------------------------------------------------------------------------
# Panels
# --------------------------------------------------------------------------------------------


def cd34_panel(
    report: GatingReport,
    beads_per_test: float,
    volume_ul: float,
    dilution: float = 1.0,
    product_volume_ml: float | None = None,
    weight_kg: float | None = None,
    min_cd45_events: int = 75_000,
    min_cd34_events: int = 100,
    min_bead_events: int = 1_000,
) -> PanelResult:
    """ISHAGE single-platform CD34+ enumeration (USP <127>) from gates Beads, CD45pos, CD45_viable,
    CD34_lymphoblast (all CD34+) and CD34_viable. ``min_cd34_events`` applies to viable CD34+ events."""
    if beads_per_test <= 0 or volume_ul <= 0 or dilution <= 0:
        raise InputError("beads per test, sample volume and dilution must be positive")
    beads, cd45 = report.count("Beads"), report.count("CD45pos")
    cd34_all, cd34_viable, cd45_viable = (
        report.count("CD34_lymphoblast"),
        report.count("CD34_viable"),
        report.count("CD45_viable"),
    )
    events = [
        min_events_check("min_cd45_events", cd45, min_cd45_events, "CD45+"),
        min_events_check("min_cd34_events", cd34_viable, min_cd34_events, "viable CD34+"),
    ]
    absolute = [*events, min_events_check("min_bead_events", beads, min_bead_events, "counting bead")]
    per_ul = cd34_viable / beads * beads_per_test / volume_ul * dilution if beads else None
    rel = math.sqrt(1 / cd34_viable + 1 / beads) if cd34_viable and beads else math.nan
    formula = (
        f"({cd34_viable} viable CD34+ / {beads} bead events) x ({beads_per_test:g} beads / {volume_ul:g} uL)"
        f" x dilution {dilution:g}"
    )
    values = [
        scaled_value("cd34_viable_per_ul", "cd34_viable_per_ul", per_ul, "cells/uL", rel, formula, absolute),
        percent_value(
            "cd34_viability", "cd34_viability", report.percent_of("CD34_viable", "CD34_lymphoblast"), events
        ),
        percent_value(
            "cd34_purity_pct",
            "cd34_purity_pct",
            Percentage("CD34_viable", "CD45_viable", cd34_viable, cd45_viable),
            events,
        ),
        percent_value("cd45_viability", None, report.percent_of("CD45_viable", "CD45pos"), events),
    ]
    if cd34_all:
        values.append(
            scaled_value(
                "cd34_total_per_ul",
                None,
                cd34_all / beads * beads_per_test / volume_ul * dilution if beads else None,
                "cells/uL",
                math.sqrt(1 / cd34_all + 1 / beads) if beads else math.nan,
                f"{cd34_all} CD34+ (viable and dead) by the same formula",
                absolute,
            )
        )
    if product_volume_ml is not None and per_ul is not None:
        total = per_ul * product_volume_ml * 1000.0
        values.append(
            scaled_value(
                "cd34_viable_total",
                None,
                total,
                "cells",
                rel,
                f"viable CD34+ per uL x {product_volume_ml:g} mL",
                absolute,
            )
        )
        if weight_kg is not None:
            if weight_kg <= 0:
                raise InputError("patient weight must be positive")
            values.append(
                scaled_value(
                    "cd34_dose_per_kg",
                    "cd34_dose_per_kg",
                    total / weight_kg / 1e6,
                    "x10^6 cells/kg",
                    rel,
                    f"viable CD34+ per product / {weight_kg:g} kg",
                    absolute,
                )
            )
    params = {
        "beads_per_test": beads_per_test,
        "volume_ul": volume_ul,
        "dilution": dilution,
        "product_volume_ml": product_volume_ml,
        "weight_kg": weight_kg,
        "min_cd45_events": min_cd45_events,
        "min_cd34_events": min_cd34_events,
        "min_bead_events": min_bead_events,
    }
    return PanelResult("cd34", report.sample_id, values, _provenance(report, "cd34", params), report)


def cart_panel(
    report: GatingReport,
    total_viable_cells: float | None = None,
    min_cd45_events: int = 10_000,
    min_cd3_events: int = 10_000,
    min_subset_events: int = 100,
) -> PanelResult:
    """CAR-T release flow from gates CD45pos, Viable, CD3pos, CARpos, CD4_T, CD8_T.
    ``total_viable_cells`` (cells, from the cell count) gives the CAR+ viable T-cell dose."""
    cd45, cd3 = report.count("CD45pos"), report.count("CD3pos")
    cd4, cd8 = report.count("CD4_T"), report.count("CD8_T")
    checks = [
        min_events_check("min_cd45_events", cd45, min_cd45_events, "CD45+"),
        min_events_check("min_cd3_events", cd3, min_cd3_events, "viable CD3+"),
    ]
    ratio_checks = [
        *checks,
        min_events_check("min_cd4_events", cd4, min_subset_events, "CD4+ T"),
        min_events_check("min_cd8_events", cd8, min_subset_events, "CD8+ T"),
    ]
    viab = report.percent_of("Viable", "CD45pos")
    cd3_pct = report.percent_of("CD3pos", "Viable")
    car = report.percent_of("CARpos", "CD3pos")
    values = [
        percent_value("viability", "viability", viab, checks),
        percent_value("cd3_pct", "cd3_pct", cd3_pct, checks),
        percent_value("car_positive_pct", "car_positive_pct", car, checks),
        scaled_value(
            "cd4_cd8_ratio",
            "cd4_cd8_ratio",
            cd4 / cd8 if cd8 else None,
            "ratio",
            math.sqrt(1 / cd4 + 1 / cd8) if cd4 and cd8 else math.nan,
            f"CD4_T / CD8_T of CD3pos: {cd4}/{cd8} events",
            ratio_checks,
        ),
        percent_value("cd4_pct", None, report.percent_of("CD4_T", "CD3pos"), checks),
        percent_value("cd8_pct", None, report.percent_of("CD8_T", "CD3pos"), checks),
    ]
    if total_viable_cells is not None:
        if total_viable_cells <= 0:
            raise InputError("total viable cells must be positive")
        f3, fc = cd3_pct.fraction, car.fraction
        dose = total_viable_cells * f3 * fc / 1e8 if f3 > 0 and fc > 0 else None
        rel = (
            math.sqrt((1 - f3) / (cd3_pct.denominator_count * f3) + (1 - fc) / (car.denominator_count * fc))
            if dose
            else math.nan
        )
        values.append(
            scaled_value(
                "car_t_dose",
                "car_t_dose",
                dose,
                "x10^8 cells",
                rel,
                f"{total_viable_cells:.4g} viable cells x CD3+ {f3:.4f} x CAR+ {fc:.4f}",
                checks,
            )
        )
    params = {
        "total_viable_cells": total_viable_cells,
        "min_cd45_events": min_cd45_events,
        "min_cd3_events": min_cd3_events,
        "min_subset_events": min_subset_events,
    }
    return PanelResult("cart", report.sample_id, values, _provenance(report, "cart", params), report)


ISCT_POSITIVE = ("CD105", "CD73", "CD90")
ISCT_NEGATIVE = ("CD45", "CD34", "CD14", "CD19", "HLA-DR")


def msc_panel(
    report: GatingReport,
    positive: tuple[str, ...] = ISCT_POSITIVE,
    negative: tuple[str, ...] = ISCT_NEGATIVE,
    positive_min_pct: float = 95.0,
    negative_max_pct: float = 2.0,
    limit_decimals: int = 0,
    min_viable_events: int = 10_000,
) -> PanelResult:
    """ISCT MSC identity from gates Cells, Viable and ``<marker>pos`` (child of Viable) for each marker.
    Each % of viable cells is rounded to ``limit_decimals`` (the limits' own decimals, USP 7.20) and
    compared with its inclusive limit; the verdict conforms only when every marker does."""
    viable = report.count("Viable")
    checks = [min_events_check("min_viable_events", viable, min_viable_events, "viable")]
    calls = []
    for marker, expected, limit in [
        *((m, "positive", positive_min_pct) for m in positive),
        *((m, "negative", negative_max_pct) for m in negative),
    ]:
        pct = report.percent_of(f"{marker}pos", "Viable")
        reported = float(round_decimals(pct.value, limit_decimals)) if pct.value is not None else math.nan
        ok = reported >= limit if expected == "positive" else reported <= limit
        calls.append(MarkerCall(marker, expected, pct, limit, reported, bool(ok)))
    verdict = "Conforms" if all(c.conforms for c in calls) else "Does not conform"
    listing = "; ".join(
        f"{c.marker} {c.reported:.{limit_decimals}f}% ({'>=' if c.expected == 'positive' else '<='} "
        f"{c.limit:g}%{'' if c.conforms else ', FAILS'})"
        for c in calls
    )
    values = [
        PanelValue(
            "msc_identity", "msc_identity", verdict, "", basis=f"% of viable cells: {listing}", checks=checks
        ),
        percent_value("viability", "viability", report.percent_of("Viable", "Cells"), checks),
        *(percent_value(f"{c.marker}_pct", None, c.percent, checks) for c in calls),
    ]
    params = {
        "positive": list(positive),
        "negative": list(negative),
        "positive_min_pct": positive_min_pct,
        "negative_max_pct": negative_max_pct,
        "limit_decimals": limit_decimals,
        "min_viable_events": min_viable_events,
    }
    return PanelResult("msc", report.sample_id, values, _provenance(report, "msc", params), report, calls)


def transduction_panel(
    report: GatingReport,
    cells_at_transduction: float | None = None,
    vector_volume_ml: float | None = None,
    dilution: float = 1.0,
    linear_range_pct: tuple[float, float] = (2.0, 20.0),
    min_viable_events: int = 10_000,
) -> PanelResult:
    """Transduced (reporter+) % of viable cells from gates Cells, Viable, Transduced; with the set-up of a
    titration well, LV functional titer TU/mL = fraction positive x cells at transduction x dilution /
    vector volume (mL), valid only inside the linear range of % positive (default 2-20%)."""
    viable = report.count("Viable")
    checks = [min_events_check("min_viable_events", viable, min_viable_events, "viable")]
    pct = report.percent_of("Transduced", "Viable")
    values = [
        percent_value("transduced_cells_pct", "transduced_cells_pct", pct, checks),
        percent_value("viability", None, report.percent_of("Viable", "Cells"), checks),
    ]
    if cells_at_transduction is not None and vector_volume_ml is not None:
        if cells_at_transduction <= 0 or vector_volume_ml <= 0 or dilution <= 0:
            raise InputError("cells at transduction, vector volume and dilution must be positive")
        lo, hi = linear_range_pct
        in_range = pct.value is not None and lo <= pct.value <= hi
        rng_check = ValidityCheck(
            "titer_linear_range", in_range, f"{pct.value:.2f}% transduced (use wells with {lo:g}-{hi:g}%)"
        )
        f = pct.fraction
        titer = f * cells_at_transduction * dilution / vector_volume_ml if f > 0 else None
        rel = math.sqrt((1 - f) / (pct.denominator_count * f)) if f > 0 else math.nan
        values.append(
            scaled_value(
                "functional_titer",
                "functional_titer",
                titer,
                "TU/mL",
                rel,
                f"{f:.4f} x {cells_at_transduction:.4g} cells x {dilution:g} / {vector_volume_ml:g} mL",
                [*checks, rng_check],
            )
        )
    params = {
        "cells_at_transduction": cells_at_transduction,
        "vector_volume_ml": vector_volume_ml,
        "dilution": dilution,
        "linear_range_pct": list(linear_range_pct),
        "min_viable_events": min_viable_events,
    }
    return PanelResult(
        "transduction", report.sample_id, values, _provenance(report, "transduction", params), report
    )


PANELS: dict[str, Callable[..., PanelResult]] = {
    "cd34": cd34_panel,
    "cart": cart_panel,
    "msc": msc_panel,
    "transduction": transduction_panel,
}


def run_panel(
    panel: str,
    fcs_path: str | Path,
    gating: str | Path | None = None,
    compensation: str | Path | np.ndarray | None = None,
    sample_id: str | None = None,
    **params: Any,
) -> PanelResult:
    """Gate one FCS file with the panel's template (or ``gating``) and compute the panel's values."""
    if panel not in PANELS:
        raise InputError(f"unknown panel {panel!r} (panels: {', '.join(PANELS)})")
    gating_path = Path(gating) if gating is not None else template_path(panel)
    report = gate_file(
        fcs_path, gating_path, sample_id=sample_id, compensation=compensation, engine=f"flow.panel.{panel}"
    )
    return PANELS[panel](report, **params)
