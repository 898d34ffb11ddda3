"""Potency applications built on the dose-response engine and plate layouts.

* CAR-T cytotoxicity: % specific lysis = 100 (experimental - spontaneous) / (maximum - spontaneous) per
  effector:target ratio (layout roles ``spontaneous``, ``maximum``, ``sample`` with dose = E:T).
* MSC immunosuppression: % inhibition of T-cell proliferation = 100 (1 - (S_msc - U) / (S - U)) per
  MSC:PBMC ratio (roles ``unstimulated``, ``stimulated``, ``sample`` with dose = MSC per PBMC).
* IDO activity: kynurenine by a linear standard curve, test as % of the reference cells.
* Capsid ELISA titer: sample dilutions read off a 4PL standard curve, only inside the standard range,
  times their dilution, averaged.
* Anti-AAV neutralizing antibody titer: serum dilution giving 50% inhibition of transduction (4PL on
  % inhibition vs dilution), with the step titer (highest dilution inhibiting >= 50%) beside it.

CAR-T IFN-gamma release and AAV in-vitro expression are relative potencies: :func:`analyze_potency`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import cgtqc
from cgtqc.assays.potency.engine import CurveFit, fit_curve
from cgtqc.errors import InputError
from cgtqc.io.plate import DoseResponseData, PlateLayout, PlateRead, join_layout
from cgtqc.results import Measurement, Provenance, ValidityCheck, file_input

ENGINE = "cgtqc.potency"


@dataclass
class RatioResponse:
    """A percentage (lysis or inhibition) per ratio, with the controls it was computed from."""

    quantity: str
    by_ratio: dict[float, float]
    cv_by_ratio: dict[float, float]
    low_control: float
    high_control: float
    checks: list[ValidityCheck]
    provenance: Provenance

    def at(self, ratio: float) -> float:
        if ratio not in self.by_ratio:
            raise InputError(
                f"no wells at ratio {ratio:g} (ratios: {', '.join(f'{r:g}' for r in self.by_ratio)})"
            )
        return self.by_ratio[ratio]

    def to_measurement(self, cqa: str, ratio: float, sample: str | None = None) -> Measurement:
        return Measurement(
            cqa,
            self.at(ratio),
            "%",
            self.provenance,
            list(self.checks),
            sample=sample,
            note=f"{self.quantity} at ratio {ratio:g}",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "by_ratio": {f"{k:g}": v for k, v in self.by_ratio.items()},
            "cv_by_ratio": {f"{k:g}": v for k, v in self.cv_by_ratio.items()},
            "low_control": self.low_control,
            "high_control": self.high_control,
            "checks": [c.to_dict() for c in self.checks],
            "provenance": self.provenance.to_dict(),
        }


def _role_values(plate: PlateRead, layout: PlateLayout, role: str) -> list[float]:
    vals = []
    for wv in join_layout(plate, layout, roles=(role,)):
        if wv.value is None:
            raise InputError("no reading", file=plate.path, place=f"well {wv.entry.well}")
        vals.append(wv.value)
    if not vals:
        raise InputError(f"layout has no {role!r} wells", file=layout.path)
    return vals


def _ratio_percent(
    plate: PlateRead,
    layout: PlateLayout,
    low_role: str,
    high_role: str,
    quantity: str,
    inhibition: bool,
    max_cv_pct: float,
) -> RatioResponse:
    low = float(np.mean(_role_values(plate, layout, low_role)))
    high = float(np.mean(_role_values(plate, layout, high_role)))
    groups: dict[float, list[float]] = {}
    for wv in join_layout(plate, layout, roles=("sample",)):
        if wv.entry.dose is None or wv.value is None:
            raise InputError(
                "sample well needs a ratio (Dose) and a reading",
                file=layout.path,
                place=f"well {wv.entry.well}",
            )
        groups.setdefault(wv.entry.dose, []).append(wv.value)
    if not groups:
        raise InputError("layout has no sample wells", file=layout.path)
    window = high - low
    checks = [ValidityCheck("control_window", window > 0, f"{high_role} {high:.4g} vs {low_role} {low:.4g}")]
    pct, cvs = {}, {}
    for ratio in sorted(groups):
        m = float(np.mean(groups[ratio]))
        frac = (m - low) / window if window > 0 else float("nan")
        pct[ratio] = 100.0 * (1.0 - frac) if inhibition else 100.0 * frac
        v = groups[ratio]
        cvs[ratio] = 100.0 * float(np.std(v, ddof=1) / abs(np.mean(v))) if len(v) > 1 and np.mean(v) else 0.0
    worst = max(cvs.values())
    checks.append(
        ValidityCheck("replicate_cv", worst <= max_cv_pct, f"largest CV {worst:.1f}% (max {max_cv_pct}%)")
    )
    prov = Provenance(
        ENGINE,
        cgtqc.__version__,
        {"quantity": quantity, "max_cv_pct": max_cv_pct},
        [file_input(plate.path), file_input(layout.path)],
    )
    return RatioResponse(quantity, pct, cvs, low, high, checks, prov)


def specific_lysis(plate: PlateRead, layout: PlateLayout, *, max_cv_pct: float = 20.0) -> RatioResponse:
    """CAR-T cytotoxicity: % specific lysis per effector:target ratio (release assay, e.g. LDH or calcein)."""
    return _ratio_percent(plate, layout, "spontaneous", "maximum", "% specific lysis", False, max_cv_pct)


def proliferation_inhibition(
    plate: PlateRead, layout: PlateLayout, *, max_cv_pct: float = 20.0
) -> RatioResponse:
    """MSC immunosuppression: % inhibition of stimulated T-cell proliferation per MSC:PBMC ratio."""
    return _ratio_percent(
        plate, layout, "unstimulated", "stimulated", "% proliferation inhibition", True, max_cv_pct
    )


@dataclass(frozen=True)
class IdoActivity:
    """Kynurenine (uM) of test and reference cells and the test's IDO activity in % of the reference."""

    test_kynurenine_um: float
    reference_kynurenine_um: float
    percent_of_reference: float
    r_squared: float
    checks: tuple[ValidityCheck, ...]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["checks"] = [c.to_dict() for c in self.checks]
        return d


def ido_activity(
    std_um: list[float],
    std_od: list[float],
    test_od: list[float],
    reference_od: list[float],
    *,
    min_r_squared: float = 0.98,
) -> IdoActivity:
    """IDO activity: kynurenine from a linear OD standard curve; test as % of the reference cells."""
    if len(std_um) != len(std_od) or len(set(std_um)) < 3:
        raise InputError("kynurenine standard curve needs at least 3 concentrations with one OD each")
    slope, intercept = np.polyfit(std_um, std_od, 1)
    r2 = float(np.corrcoef(std_um, std_od)[0, 1] ** 2)
    if slope <= 0:
        raise InputError("kynurenine standard OD does not rise with concentration")
    test = (float(np.mean(test_od)) - intercept) / slope
    ref = (float(np.mean(reference_od)) - intercept) / slope
    checks = (
        ValidityCheck("standard_curve_r_squared", r2 >= min_r_squared, f"R^2 {r2:.4f} (min {min_r_squared})"),
        ValidityCheck("reference_kynurenine_positive", ref > 0, f"reference {ref:.3g} uM"),
    )
    return IdoActivity(test, ref, 100.0 * test / ref if ref > 0 else float("nan"), r2, checks)


@dataclass
class InterpolatedTiter:
    """A titer read off a standard curve: per-dilution back-calculated values and their mean."""

    quantity: str
    value: float | None
    per_dilution: dict[float, float | None]
    standard: CurveFit
    checks: list[ValidityCheck] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "value": self.value,
            "per_dilution": {f"{k:g}": v for k, v in self.per_dilution.items()},
            "standard": self.standard.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
        }


def elisa_titer(
    standard: DoseResponseData,
    sample_dilutions: list[float],
    sample_responses: list[float],
    *,
    max_cv_pct: float = 20.0,
) -> InterpolatedTiter:
    """Capsid ELISA: each dilution's response interpolated on the 4PL standard curve (capsids/mL), kept only
    inside the standard range, multiplied by the dilution; the titer is the mean of those kept."""
    cf = fit_curve(standard, model="4pl")
    if not cf.converged:
        return InterpolatedTiter(
            "capsids/mL", None, {}, cf, [ValidityCheck("standard_curve_fit", False, cf.message)]
        )
    lo, hi = cf.dose_range
    per: dict[float, float | None] = {}
    for dil, resp in zip(sample_dilutions, sample_responses, strict=True):
        conc = cf.interpolate(resp)
        per[dil] = conc * dil if math.isfinite(conc) and lo <= conc <= hi else None
    kept = [v for v in per.values() if v is not None]
    checks = [
        ValidityCheck("standard_curve_fit", True, f"R^2 {cf.r_squared:.4f}"),
        ValidityCheck("dilution_in_standard_range", bool(kept), f"{len(kept)} of {len(per)} dilutions"),
    ]
    if len(kept) > 1:
        cv = 100.0 * float(np.std(kept, ddof=1) / np.mean(kept))
        checks.append(
            ValidityCheck("dilution_agreement", cv <= max_cv_pct, f"CV {cv:.1f}% (max {max_cv_pct}%)")
        )
    return InterpolatedTiter("capsids/mL", float(np.mean(kept)) if kept else None, per, cf, checks)


@dataclass
class NeutralizingTiter:
    """Anti-AAV NAb titer: fitted ID50 (serum dilution giving 50% inhibition) and the step titer."""

    id50: float | None
    step_titer: float | None
    inhibition_pct: dict[float, float]
    curve: CurveFit | None
    checks: list[ValidityCheck]

    @property
    def reportable(self) -> str:
        if self.step_titer is None:
            lowest = min(self.inhibition_pct)
            return f"< 1:{lowest:g}"
        return f"1:{self.step_titer:g}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id50": self.id50,
            "step_titer": self.step_titer,
            "reportable": self.reportable,
            "inhibition_pct": {f"{k:g}": v for k, v in self.inhibition_pct.items()},
            "curve": self.curve.to_dict() if self.curve else None,
            "checks": [c.to_dict() for c in self.checks],
        }


def nab_titer(
    dilutions: list[float], signal: list[float], no_serum_signal: float, *, background_signal: float = 0.0
) -> NeutralizingTiter:
    """% inhibition = 100 (1 - (signal - background)/(no-serum - background)) per serum dilution (fold)."""
    if no_serum_signal <= background_signal:
        raise InputError("the no-serum transduction signal must exceed the background")
    if any(d <= 0 for d in dilutions):
        raise InputError("serum dilutions must be positive folds (e.g. 20 for 1:20)")
    inh: dict[float, list[float]] = {}
    for d, s in zip(dilutions, signal, strict=True):
        inh.setdefault(d, []).append(
            100.0 * (1 - (s - background_signal) / (no_serum_signal - background_signal))
        )
    means = {d: float(np.mean(v)) for d, v in sorted(inh.items())}
    above = [d for d, v in means.items() if v >= 50.0]
    step = max(above) if above else None
    checks: list[ValidityCheck] = []
    data = DoseResponseData(
        tuple(float(d) for d in dilutions),
        tuple(100.0 * (1 - (s - background_signal) / (no_serum_signal - background_signal)) for s in signal),
        ("serum",) * len(signal),
        tuple(f"point {i + 1}" for i in range(len(signal))),
        ("",),
    )
    cf = fit_curve(data, model="4pl") if len(means) >= 4 else None
    id50 = None
    if cf is not None and cf.converged:
        x50 = cf.interpolate(50.0)
        lo, hi = cf.dose_range
        inside = math.isfinite(x50) and lo <= x50 <= hi
        checks.append(
            ValidityCheck(
                "id50_within_dilutions",
                inside,
                f"ID50 1:{x50:.4g}" if math.isfinite(x50) else "50% not reached by the fit",
            )
        )
        id50 = x50 if inside else None
    else:
        checks.append(
            ValidityCheck("inhibition_curve_fit", False, "fewer than 4 dilutions or no convergence")
        )
    return NeutralizingTiter(id50, step, means, cf, checks)
