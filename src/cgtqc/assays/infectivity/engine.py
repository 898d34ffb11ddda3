"""Infectivity: TCID50 by Spearman-Kaerber and Reed-Muench, and lentiviral functional titer (TU/mL).

Dilutions are given as positive log10 dilution factors (10^-3 -> 3). Spearman-Kaerber:
log10 endpoint = x0 - d/2 + d * sum(r_i / n_i), from the highest dilution x0 at which every well is positive,
step d, over x0 and every more dilute level; the series must end with an all-negative level. Its standard
error is d * sqrt(sum p(1-p)/(n-1)). Reed-Muench accumulates infected wells upward from the most dilute level
and uninfected wells downward, and interpolates the 50% point by the proportionate distance.
TCID50/mL = 10^endpoint / inoculum volume (mL).

LV functional titer: TU/mL = fraction transduced x cells at transduction x dilution / volume (mL), from flow
(% positive above the untransduced background) or qPCR (vector copies per cell). Only dilutions in the linear
range count (2-20% positive by default: above, cells carry several vectors; below, background dominates).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import cgtqc
from cgtqc.errors import InputError
from cgtqc.results import Measurement, Provenance, ValidityCheck, file_input

ENGINE = "cgtqc.infectivity"


@dataclass(frozen=True)
class DilutionWells:
    """Wells at one dilution: positive (cytopathic effect) out of total."""

    log10_dilution: float
    positive: int
    total: int

    @property
    def proportion(self) -> float:
        return self.positive / self.total


@dataclass
class Tcid50Result:
    """A TCID50 endpoint (log10 dilution) and titer per mL with the method's checks."""

    method: str
    log10_endpoint: float | None
    se_log10: float | None
    inoculum_ml: float
    levels: list[DilutionWells]
    checks: list[ValidityCheck]
    provenance: Provenance

    @property
    def valid(self) -> bool:
        return self.log10_endpoint is not None and all(c.passed for c in self.checks)

    @property
    def tcid50_per_ml(self) -> float | None:
        return None if self.log10_endpoint is None else 10**self.log10_endpoint / self.inoculum_ml

    def ci95(self) -> tuple[float, float] | None:
        if self.log10_endpoint is None or self.se_log10 is None:
            return None
        h = 1.96 * self.se_log10
        return (
            10 ** (self.log10_endpoint - h) / self.inoculum_ml,
            10 ** (self.log10_endpoint + h) / self.inoculum_ml,
        )

    def to_measurement(self, cqa: str = "infectious_titer", sample: str | None = None) -> Measurement:
        ci = self.ci95()
        return Measurement(
            cqa,
            self.tcid50_per_ml,
            "TCID50/mL",
            self.provenance,
            list(self.checks),
            ci_low=ci[0] if ci else None,
            ci_high=ci[1] if ci else None,
            sample=sample,
            note=f"{self.method}, log10 endpoint {self.log10_endpoint}",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "log10_endpoint": self.log10_endpoint,
            "se_log10": self.se_log10,
            "tcid50_per_ml": self.tcid50_per_ml,
            "ci95": self.ci95(),
            "inoculum_ml": self.inoculum_ml,
            "valid": self.valid,
            "levels": [asdict(lv) for lv in self.levels],
            "checks": [c.to_dict() for c in self.checks],
            "provenance": self.provenance.to_dict(),
        }


def _validated(levels: list[DilutionWells]) -> tuple[list[DilutionWells], float]:
    if len(levels) < 2:
        raise InputError("a TCID50 needs at least two dilutions")
    for lv in levels:
        if lv.total <= 0 or not 0 <= lv.positive <= lv.total:
            raise InputError(f"dilution {lv.log10_dilution:g}: {lv.positive} positive of {lv.total} wells")
    lv = sorted(levels, key=lambda v: v.log10_dilution)
    steps = np.diff([v.log10_dilution for v in lv])
    if np.any(steps <= 0) or np.ptp(steps) > 1e-6:
        raise InputError("dilutions must be distinct and equally spaced in log10")
    return lv, float(steps[0])


def _provenance(method: str, inoculum_ml: float, source: str | Path | None) -> Provenance:
    inputs = [file_input(source)] if source is not None and Path(source).is_file() else []
    return Provenance(ENGINE, cgtqc.__version__, {"method": method, "inoculum_ml": inoculum_ml}, inputs)


def spearman_karber(
    levels: list[DilutionWells], *, inoculum_ml: float = 0.1, source: str | Path | None = None
) -> Tcid50Result:
    """Spearman-Kaerber TCID50 from the highest all-positive dilution onward."""
    lv, d = _validated(levels)
    prov = _provenance("spearman_karber", inoculum_ml, source)
    all_pos = [i for i, v in enumerate(lv) if v.positive == v.total]
    checks = [
        ValidityCheck("all_positive_level", bool(all_pos), "a dilution with every well positive"),
        ValidityCheck(
            "all_negative_level", lv[-1].positive == 0, "the most dilute level has no positive well"
        ),
    ]
    if not all_pos or lv[-1].positive != 0:
        return Tcid50Result("spearman_karber", None, None, inoculum_ml, lv, checks, prov)
    start = max(all_pos)
    use = lv[start:]
    x0 = use[0].log10_dilution
    endpoint = x0 - d / 2 + d * sum(v.proportion for v in use)
    var = sum(v.proportion * (1 - v.proportion) / (v.total - 1) for v in use if v.total > 1)
    return Tcid50Result("spearman_karber", endpoint, d * math.sqrt(var), inoculum_ml, lv, checks, prov)


def reed_muench(
    levels: list[DilutionWells], *, inoculum_ml: float = 0.1, source: str | Path | None = None
) -> Tcid50Result:
    """Reed-Muench TCID50 by cumulative counts and the proportionate distance."""
    lv, d = _validated(levels)
    prov = _provenance("reed_muench", inoculum_ml, source)
    infected = np.cumsum([v.positive for v in lv][::-1])[::-1]
    uninfected = np.cumsum([v.total - v.positive for v in lv])
    pct = 100.0 * infected / (infected + uninfected)
    above = [i for i in range(len(lv) - 1) if pct[i] >= 50.0 > pct[i + 1]]
    checks = [ValidityCheck("brackets_50_percent", bool(above), "cumulative infection crosses 50%")]
    if not above:
        return Tcid50Result("reed_muench", None, None, inoculum_ml, lv, checks, prov)
    i = above[0]
    pd = (pct[i] - 50.0) / (pct[i] - pct[i + 1])
    return Tcid50Result("reed_muench", lv[i].log10_dilution + pd * d, None, inoculum_ml, lv, checks, prov)


# --- lentiviral functional titer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TiterPoint:
    """One transduction: dilution (fold) of the vector, transduced fraction, TU/mL and whether it counts."""

    dilution: float
    transduced: float
    tu_per_ml: float
    in_linear_range: bool


@dataclass
class FunctionalTiter:
    """LV functional titer from the dilutions inside the linear range (arithmetic mean of their TU/mL)."""

    readout: str
    tu_per_ml: float | None
    points: list[TiterPoint]
    checks: list[ValidityCheck]
    provenance: Provenance
    cv_pct: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.tu_per_ml is not None and all(c.passed for c in self.checks)

    def to_measurement(self, cqa: str = "functional_titer", sample: str | None = None) -> Measurement:
        return Measurement(
            cqa,
            self.tu_per_ml,
            "TU/mL",
            self.provenance,
            list(self.checks),
            sample=sample,
            note=f"{self.readout}; {sum(p.in_linear_range for p in self.points)} dilution(s) in range",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "readout": self.readout,
            "tu_per_ml": self.tu_per_ml,
            "cv_pct": self.cv_pct,
            "valid": self.valid,
            "points": [asdict(p) for p in self.points],
            "checks": [c.to_dict() for c in self.checks],
            "provenance": self.provenance.to_dict(),
        }


def _titer(
    readout: str,
    dilutions: list[float],
    transduced: list[float],
    cells: float,
    volume_ml: float,
    linear_range: tuple[float, float],
    max_cv_pct: float,
    params: dict[str, Any],
    source: str | Path | None,
) -> FunctionalTiter:
    if len(dilutions) != len(transduced) or not dilutions:
        raise InputError("give one transduced value per dilution")
    if not (cells > 0 and volume_ml > 0) or any(not d > 0 for d in dilutions):
        raise InputError("cells, volume and dilutions must be positive")
    lo, hi = linear_range
    points = [
        TiterPoint(d, t, t * cells * d / volume_ml, lo <= t <= hi)
        for d, t in zip(dilutions, transduced, strict=True)
    ]
    use = [p.tu_per_ml for p in points if p.in_linear_range]
    inputs = [file_input(source)] if source is not None and Path(source).is_file() else []
    params = {
        **params,
        "cells_at_transduction": cells,
        "volume_ml": volume_ml,
        "linear_range": list(linear_range),
        "max_cv_pct": max_cv_pct,
    }
    prov = Provenance(ENGINE, cgtqc.__version__, params, inputs)
    checks = [
        ValidityCheck(
            "dilution_in_linear_range",
            bool(use),
            f"{len(use)} dilution(s) with transduced fraction in {lo:g}-{hi:g}",
        )
    ]
    if not use:
        return FunctionalTiter(readout, None, points, checks, prov, None, params)
    cv = 100.0 * float(np.std(use, ddof=1) / np.mean(use)) if len(use) > 1 else 0.0
    checks.append(
        ValidityCheck(
            "dilution_agreement", cv <= max_cv_pct, f"CV across dilutions {cv:.1f}% (max {max_cv_pct}%)"
        )
    )
    return FunctionalTiter(readout, float(np.mean(use)), points, checks, prov, cv, params)


def lv_titer_flow(
    dilutions: list[float],
    percent_positive: list[float],
    *,
    cells: float,
    volume_ml: float,
    background_pct: float = 0.0,
    linear_range_pct: tuple[float, float] = (2.0, 20.0),
    max_cv_pct: float = 30.0,
    source: str | Path | None = None,
) -> FunctionalTiter:
    """TU/mL from % transgene-positive cells (flow) at each vector dilution; background subtracted."""
    for p in percent_positive:
        if not 0.0 <= p <= 100.0:
            raise InputError(f"percent positive {p:g} is outside 0-100")
    frac = [max(p - background_pct, 0.0) / 100.0 for p in percent_positive]
    return _titer(
        "flow % positive",
        dilutions,
        frac,
        cells,
        volume_ml,
        (linear_range_pct[0] / 100.0, linear_range_pct[1] / 100.0),
        max_cv_pct,
        {"background_pct": background_pct, "linear_range_pct": list(linear_range_pct)},
        source,
    )


def lv_titer_qpcr(
    dilutions: list[float],
    vector_copies_per_cell: list[float],
    *,
    cells: float,
    volume_ml: float,
    linear_range: tuple[float, float] = (0.02, 0.3),
    max_cv_pct: float = 30.0,
    source: str | Path | None = None,
) -> FunctionalTiter:
    """TU/mL from vector copies per cell (qPCR, target vs two-copy reference) at each vector dilution."""
    if any(v < 0 for v in vector_copies_per_cell):
        raise InputError("vector copies per cell cannot be negative")
    return _titer(
        "qPCR vector copies per cell",
        dilutions,
        list(vector_copies_per_cell),
        cells,
        volume_ml,
        linear_range,
        max_cv_pct,
        {},
        source,
    )


def simulate_lv_transduction(
    tu_per_ml: float,
    dilutions: list[float],
    *,
    cells: float = 1e5,
    volume_ml: float = 0.1,
    events: int = 20_000,
    background_pct: float = 0.2,
    seed: int = 3,
) -> list[float]:
    """% positive cells by flow for each dilution of a vector of known TU/mL (Poisson infection, binomial
    counting of ``events`` cells): the truth behind tests and the demo."""
    rng = np.random.default_rng(seed)
    out = []
    for d in dilutions:
        moi = tu_per_ml * volume_ml / d / cells
        p = 1 - math.exp(-moi) + background_pct / 100.0
        out.append(100.0 * rng.binomial(events, min(p, 1.0)) / events)
    return out
