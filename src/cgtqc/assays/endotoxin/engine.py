"""Bacterial endotoxins (USP <85>, Ph. Eur. 2.6.14 incl. recombinant factor C): kinetic photometric runs,
endotoxin limit and maximum valid dilution, gel-clot endpoints and the monocyte activation test method A.

Kinetic methods read one value per well (onset time for chromogenic/turbidimetric LAL, reaction rate or
fluorescence for rFC) and a layout naming each well's role: ``standard`` (dose = EU/mL), ``nc`` (negative
control, LAL reagent water), ``sample`` (with its dilution) and ``ppc`` (the sample spiked with ``spike``
EU/mL in the well). The standard curve is log10(response) on log10(concentration); a sample's endotoxin is
read from the curve per well, averaged, and multiplied by its dilution. Every validity rule is a named
:class:`~cgtqc.results.ValidityCheck`; a run with a failed rule is invalid and says which rule failed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import cgtqc
from cgtqc.assays.potency.engine import fit_curve
from cgtqc.errors import InputError
from cgtqc.io.plate import DoseResponseData, PlateLayout, PlateRead, WellValue, join_layout
from cgtqc.results import Measurement, Provenance, ValidityCheck, file_input

ENGINE = "cgtqc.endotoxin"
METHODS = {"kinetic_chromogenic": "onset", "kinetic_turbidimetric": "onset", "rfc": "rate"}
"""Kinetic method -> what the reader reports per well (onset time falls, rate/fluorescence rises with EU)."""
ROLES = ("standard", "nc", "sample", "ppc")


@dataclass(frozen=True)
class EndotoxinCriteria:
    """Validity limits of a kinetic run (USP <85>); the CV limit is a common convention, not a USP rule."""

    min_abs_r: float = 0.980
    min_standards: int = 3
    min_standard_replicates: int = 3
    ppc_recovery_pct: tuple[float, float] = (50.0, 200.0)
    max_replicate_cv_pct: float = 10.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StandardCurve:
    """log10(response) = intercept + slope * log10(EU/mL), fitted on every standard well."""

    intercept: float
    slope: float
    r: float
    n_wells: int
    concentrations: tuple[float, ...]

    @property
    def lowest(self) -> float:
        """Lambda: the lowest standard concentration, the curve's sensitivity."""
        return min(self.concentrations)

    @property
    def highest(self) -> float:
        return max(self.concentrations)

    def concentration(self, response: float) -> float:
        """EU/mL in the well for one reading, by inverse regression."""
        return 10 ** ((math.log10(response) - self.intercept) / self.slope)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["lambda_eu_per_ml"] = self.lowest
        return d


@dataclass
class EndotoxinSample:
    """One sample at one dilution: endotoxin in EU/mL of the undiluted sample and its spike recovery."""

    sample: str
    dilution: float
    wells: list[str]
    in_well_eu_per_ml: float
    eu_per_ml: float
    loq_eu_per_ml: float
    below_lowest_standard: bool
    replicate_cv_pct: float
    ppc_recovery_pct: float | None
    spike_eu_per_ml: float | None
    checks: list[ValidityCheck] = field(default_factory=list)

    @property
    def reportable(self) -> str:
        """What a certificate would print: the value, or '< LOQ' below the lowest standard."""
        if self.below_lowest_standard:
            return f"< {self.loq_eu_per_ml:.3g} EU/mL"
        return f"{self.eu_per_ml:.3g} EU/mL"

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "checks"}
        d["reportable"] = self.reportable
        d["checks"] = [c.to_dict() for c in self.checks]
        return d


@dataclass
class EndotoxinRun:
    """A kinetic (or MAT) run: its standard curve, samples and every validity check by name."""

    method: str
    curve: StandardCurve | None
    samples: list[EndotoxinSample]
    checks: list[ValidityCheck]
    provenance: Provenance

    @property
    def valid(self) -> bool:
        return all(c.passed for c in self.checks) and all(c.passed for s in self.samples for c in s.checks)

    @property
    def failed_rules(self) -> list[str]:
        return [c.name for c in self.checks + [c for s in self.samples for c in s.checks] if not c.passed]

    def to_measurements(self, cqa: str = "endotoxin") -> list[Measurement]:
        """One Measurement (EU/mL) per sample and dilution, with the run's and the sample's checks."""
        out = []
        for s in self.samples:
            out.append(
                Measurement(
                    cqa,
                    s.eu_per_ml,
                    "EU/mL",
                    self.provenance,
                    list(self.checks) + list(s.checks),
                    loq=s.loq_eu_per_ml,
                    sample=s.sample,
                    note=f"{self.method}, dilution 1:{s.dilution:g}, reportable {s.reportable}",
                )
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "valid": self.valid,
            "failed_rules": self.failed_rules,
            "curve": self.curve.to_dict() if self.curve else None,
            "samples": [s.to_dict() for s in self.samples],
            "checks": [c.to_dict() for c in self.checks],
            "provenance": self.provenance.to_dict(),
        }


def _cv(values: list[float]) -> float:
    if len(values) < 2 or np.mean(values) == 0:
        return 0.0
    return 100.0 * float(np.std(values, ddof=1) / abs(np.mean(values)))


def fit_standard_curve(wells: list[WellValue], *, file: str | None = None) -> StandardCurve:
    """Log-log regression over every standard well (a censored standard well is an input error here)."""
    xs, ys = [], []
    for wv in wells:
        e = wv.entry
        if e.dose is None or e.dose <= 0:
            raise InputError(
                "standard well needs a positive concentration (Dose)", file=file, place=f"well {e.well}"
            )
        if wv.value is None or wv.value <= 0:
            raise InputError("standard well has no positive reading", file=file, place=f"well {e.well}")
        xs.append(math.log10(e.dose))
        ys.append(math.log10(wv.value))
    if len(set(xs)) < 2:
        raise InputError("standard curve needs at least two concentrations", file=file)
    x, y = np.array(xs), np.array(ys)
    slope, intercept = np.polyfit(x, y, 1)
    r = float(np.corrcoef(x, y)[0, 1])
    return StandardCurve(
        float(intercept), float(slope), r, len(xs), tuple(sorted({float(w.entry.dose) for w in wells}))
    )  # type: ignore[arg-type]


def _curve_checks(
    wells: list[WellValue], curve: StandardCurve, crit: EndotoxinCriteria
) -> list[ValidityCheck]:
    by_conc: dict[float, list[float]] = {}
    for wv in wells:
        by_conc.setdefault(float(wv.entry.dose), []).append(float(wv.value))  # type: ignore[arg-type]
    reps = min(len(v) for v in by_conc.values())
    worst = max(by_conc, key=lambda c: _cv(by_conc[c]))
    return [
        ValidityCheck(
            "standard_count",
            len(by_conc) >= crit.min_standards,
            f"{len(by_conc)} standard concentrations (min {crit.min_standards})",
        ),
        ValidityCheck(
            "standard_replicates",
            reps >= crit.min_standard_replicates,
            f"fewest replicates {reps} (min {crit.min_standard_replicates})",
        ),
        ValidityCheck(
            "standard_curve_r",
            abs(curve.r) >= crit.min_abs_r,
            f"|r| = {abs(curve.r):.4f} (min {crit.min_abs_r})",
        ),
        ValidityCheck(
            "standard_replicate_cv",
            _cv(by_conc[worst]) <= crit.max_replicate_cv_pct,
            f"largest CV {_cv(by_conc[worst]):.1f}% at {worst:g} EU/mL (max {crit.max_replicate_cv_pct}%)",
        ),
    ]


def _well_conc(wv: WellValue, conc_of) -> float:
    """EU/mL in one well; a censored well (no reaction) counts as 0."""
    return 0.0 if wv.value is None else conc_of(wv.value)


def quantify_samples(
    joined: list[WellValue],
    conc_of,
    lam: float,
    highest: float,
    crit: EndotoxinCriteria,
    mvd: float | None = None,
    response_cv: bool = True,
) -> tuple[list[EndotoxinSample], list[ValidityCheck]]:
    """Samples, their PPCs and negative controls against a curve given as ``conc_of(reading)``."""
    checks: list[ValidityCheck] = []
    for wv in [w for w in joined if w.entry.role == "nc"]:
        c = _well_conc(wv, conc_of)
        checks.append(
            ValidityCheck(
                f"negative_control[{wv.entry.well}]",
                c < lam,
                "no reaction" if wv.value is None else f"{c:.3g} EU/mL (must be < {lam:g})",
            )
        )
    groups: dict[tuple[str, float], dict[str, list[WellValue]]] = {}
    for wv in joined:
        if wv.entry.role in ("sample", "ppc"):
            key = (wv.entry.sample or "sample", wv.entry.dilution)
            groups.setdefault(key, {"sample": [], "ppc": []})[wv.entry.role].append(wv)
    samples = []
    for (name, dil), g in groups.items():
        tag = f"{name} 1:{dil:g}"
        if not g["sample"]:
            raise InputError(f"positive product control for {tag} has no unspiked sample wells")
        concs = [_well_conc(w, conc_of) for w in g["sample"]]
        mean = float(np.mean(concs))
        reads = [w.value for w in g["sample"] if w.value is not None]
        cv = _cv(reads if response_cv else concs) if len(reads) == len(g["sample"]) else 0.0
        sc = [
            ValidityCheck(
                f"sample_replicate_cv[{tag}]",
                cv <= crit.max_replicate_cv_pct,
                f"CV {cv:.1f}% (max {crit.max_replicate_cv_pct}%)",
            ),
            ValidityCheck(
                f"sample_within_curve[{tag}]",
                mean <= highest,
                f"{mean:.3g} EU/mL in the well (highest standard {highest:g}); dilute further"
                if mean > highest
                else f"{mean:.3g} EU/mL in the well",
            ),
        ]
        rec, spike = None, None
        if g["ppc"]:
            spikes = {w.entry.spike for w in g["ppc"]}
            if None in spikes or len(spikes) != 1:
                raise InputError(
                    f"positive product control wells of {tag} need one Spike value (EU/mL)",
                    place=f"well {g['ppc'][0].entry.well}",
                )
            spike = float(next(iter(spikes)))  # type: ignore[arg-type]
            found = float(np.mean([_well_conc(w, conc_of) for w in g["ppc"]])) - mean
            rec = 100.0 * found / spike
            lo, hi = crit.ppc_recovery_pct
            sc.append(
                ValidityCheck(
                    f"ppc_recovery[{tag}]",
                    lo <= rec <= hi,
                    f"spike recovery {rec:.0f}% (must be {lo:g}-{hi:g}%)",
                )
            )
        else:
            sc.append(ValidityCheck(f"ppc_recovery[{tag}]", False, "no positive product control wells"))
        if mvd is not None:
            sc.append(
                ValidityCheck(f"dilution_within_mvd[{tag}]", dil <= mvd, f"1:{dil:g} (MVD 1:{mvd:.4g})")
            )
        samples.append(
            EndotoxinSample(
                name,
                dil,
                [w.entry.well for w in g["sample"]],
                mean,
                mean * dil,
                lam * dil,
                mean < lam,
                cv,
                rec,
                spike,
                sc,
            )
        )
    if not samples:
        raise InputError("layout has no sample wells")
    return samples, checks


def analyze_kinetic(
    plate: PlateRead,
    layout: PlateLayout,
    *,
    method: str = "kinetic_chromogenic",
    criteria: EndotoxinCriteria | None = None,
    mvd: float | None = None,
) -> EndotoxinRun:
    """Analyse a kinetic LAL or rFC run from a reader export and its layout."""
    if method not in METHODS:
        raise InputError(f"unknown method {method!r} (choose {', '.join(METHODS)})")
    crit = criteria or EndotoxinCriteria()
    unknown = sorted({e.role for e in layout.entries} - set(ROLES) - {"blank", "empty"})
    if unknown:
        raise InputError(f"unknown role(s) {', '.join(unknown)} (use {', '.join(ROLES)})", file=layout.path)
    joined = join_layout(plate, layout, roles=ROLES)
    stds = [w for w in joined if w.entry.role == "standard"]
    if not stds:
        raise InputError("layout has no standard wells", file=layout.path)
    curve = fit_standard_curve(stds, file=plate.path)
    checks = _curve_checks(stds, curve, crit)
    expected = "negative" if METHODS[method] == "onset" else "positive"
    checks.append(
        ValidityCheck(
            "standard_curve_direction",
            (curve.slope < 0) == (expected == "negative"),
            f"slope {curve.slope:.3f} (expected {expected} for {METHODS[method]} reads)",
        )
    )
    samples, more = quantify_samples(joined, curve.concentration, curve.lowest, curve.highest, crit, mvd)
    params = {"method": method, "criteria": crit.to_dict(), "mvd": mvd, "plate_format": plate.plate_format}
    prov = Provenance(ENGINE, cgtqc.__version__, params, [file_input(plate.path), file_input(layout.path)])
    return EndotoxinRun(method, curve, samples, checks + more, prov)


# --- endotoxin limit and maximum valid dilution -------------------------------------------------------------

K_EU_PER_KG = {"parenteral": 5.0, "intrathecal": 0.2}
"""K (EU/kg) per route, USP <85>; per-m2 dosing uses K = 2.5 EU/kg with a 1.80 m2, 70 kg adult."""


@dataclass(frozen=True)
class EndotoxinLimit:
    """Endotoxin limit K/M in EU per unit of dose (EU/mL when the dose is in mL)."""

    limit: float
    k_eu_per_kg: float
    m_per_kg_per_h: float
    route: str
    basis: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def endotoxin_limit(
    *,
    route: str = "parenteral",
    max_dose_per_kg_per_h: float | None = None,
    max_dose_per_m2_per_h: float | None = None,
    k: float | None = None,
) -> EndotoxinLimit:
    """K/M. Give the maximum dose per kg per hour, or per m2 per hour (M = dose/m2/h x 1.80 / 70)."""
    if (max_dose_per_kg_per_h is None) == (max_dose_per_m2_per_h is None):
        raise InputError("give exactly one of the maximum dose per kg per hour or per m2 per hour")
    if route not in K_EU_PER_KG:
        raise InputError(f"unknown route {route!r} (choose {', '.join(K_EU_PER_KG)})")
    if max_dose_per_kg_per_h is not None:
        m, basis = float(max_dose_per_kg_per_h), "per kg"
        kk = K_EU_PER_KG[route] if k is None else k
    else:
        if route == "intrathecal" and k is None:
            raise InputError("per-m2 intrathecal dosing needs an explicit K")
        m, basis = float(max_dose_per_m2_per_h) * 1.80 / 70.0, "per m2 (1.80 m2, 70 kg)"
        kk = 2.5 if k is None else k
    if not m > 0:
        raise InputError(f"maximum dose must be positive, got {m:g}")
    return EndotoxinLimit(kk / m, kk, m, route, basis)


def maximum_valid_dilution(limit: float, lam: float, concentration: float = 1.0) -> float:
    """MVD = endotoxin limit x concentration of the sample / lambda (limit in EU/mL: concentration 1)."""
    if not (limit > 0 and lam > 0 and concentration > 0):
        raise InputError("limit, lambda and concentration must be positive")
    return limit * concentration / lam


# --- gel clot ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GelClotResult:
    """Geometric-mean endpoint of replicate gel-clot series and the verdict."""

    endpoints: tuple[float, ...]
    geometric_mean: float | None
    value: float | None
    checks: tuple[ValidityCheck, ...]

    @property
    def valid(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoints": list(self.endpoints),
            "geometric_mean": self.geometric_mean,
            "value": self.value,
            "valid": self.valid,
            "checks": [c.to_dict() for c in self.checks],
        }


def _endpoint(series: list[tuple[float, bool]], *, increasing: bool) -> float | None:
    """Endpoint of one replicate: the last positive step walking from the strongest to the weakest level."""
    steps = sorted(series, key=lambda t: t[0], reverse=not increasing)
    last = None
    for level, clotted in steps:
        if not clotted:
            break
        last = level
    return last


def gel_clot_sensitivity(replicates: list[list[tuple[float, bool]]], labelled_lambda: float) -> GelClotResult:
    """Confirm the labelled lysate sensitivity: each replicate is (EU/mL, clotted) at 2, 1, 0.5, 0.25 lambda;
    endpoint = lowest concentration clotting; geometric mean must lie in 0.5 lambda - 2 lambda."""
    ends = [_endpoint(r, increasing=False) for r in replicates]
    if not replicates:
        raise InputError("no gel-clot replicates")
    checks = [
        ValidityCheck(
            "gel_clot_highest_positive",
            all(e is not None for e in ends),
            "every replicate clots at the highest concentration",
        )
    ]
    top_neg = all(not any(c for lv, c in r if lv <= 0.25 * labelled_lambda * 1.0001) for r in replicates)
    checks.append(ValidityCheck("gel_clot_lowest_negative", top_neg, "no clot at 0.25 lambda"))
    if any(e is None for e in ends):
        return GelClotResult(tuple(e or float("nan") for e in ends), None, None, tuple(checks))
    gm = 10 ** float(np.mean(np.log10(ends)))  # type: ignore[arg-type]
    ok = 0.5 * labelled_lambda <= gm <= 2.0 * labelled_lambda
    checks.append(
        ValidityCheck(
            "gel_clot_sensitivity",
            ok,
            f"geometric mean {gm:.3g} EU/mL vs labelled {labelled_lambda:g} (must be 0.5-2 lambda)",
        )
    )
    return GelClotResult(tuple(ends), gm, gm, tuple(checks))  # type: ignore[arg-type]


def gel_clot_sample(
    replicates: list[list[tuple[float, bool]]],
    lam: float,
    *,
    positive_control: bool,
    ppc: bool,
    negative_control: bool,
) -> GelClotResult:
    """Quantitative gel-clot test: each replicate is (dilution factor, clotted); endpoint = highest dilution
    clotting; EU/mL = lambda x geometric-mean endpoint dilution (0 when nothing clots: '< lambda x lowest')
    """
    if not replicates:
        raise InputError("no gel-clot replicates")
    checks = (
        ValidityCheck("positive_control", positive_control, "2 lambda in water clots"),
        ValidityCheck("ppc", ppc, "sample spiked at 2 lambda clots"),
        ValidityCheck("negative_control", not negative_control, "water alone does not clot"),
    )
    ends = [_endpoint(r, increasing=True) for r in replicates]
    if any(e is None for e in ends):
        return GelClotResult(tuple(e or 0.0 for e in ends), None, 0.0, checks)
    gm = 10 ** float(np.mean(np.log10(ends)))  # type: ignore[arg-type]
    return GelClotResult(tuple(ends), gm, lam * gm, checks)  # type: ignore[arg-type]


# --- monocyte activation test, method A ---------------------------------------------------------------------


def analyze_mat(
    plate: PlateRead,
    layout: PlateLayout,
    *,
    criteria: EndotoxinCriteria | None = None,
    min_r_squared: float = 0.95,
) -> EndotoxinRun:
    """MAT method A (Ph. Eur. 2.6.30): cytokine readout (e.g. IL-6 ELISA OD) of monocytes against an endotoxin
    standard curve (4PL), samples and spiked samples read off it in endotoxin-equivalent EU/mL."""
    crit = criteria or EndotoxinCriteria()
    joined = join_layout(plate, layout, roles=ROLES)
    stds = [w for w in joined if w.entry.role == "standard"]
    if len(stds) < 5:
        raise InputError("MAT standard curve needs at least 5 wells", file=layout.path)
    for w in stds:
        if w.value is None or w.entry.dose is None or w.entry.dose <= 0:
            raise InputError(
                "standard well needs a positive dose and a reading",
                file=plate.path,
                place=f"well {w.entry.well}",
            )
    data = DoseResponseData(
        tuple(float(w.entry.dose) for w in stds),
        tuple(float(w.value) for w in stds),  # type: ignore[arg-type]
        ("standard",) * len(stds),
        tuple(f"well {w.entry.well}" for w in stds),
        (plate.path,),
    )
    cf = fit_curve(data, model="4pl")
    checks = [ValidityCheck("standard_curve_fit", cf.converged, cf.message)]
    if not cf.converged:
        prov = Provenance(ENGINE, cgtqc.__version__, {"method": "mat_a"}, [file_input(plate.path)])
        return EndotoxinRun("mat_a", None, [], checks, prov)
    checks.append(
        ValidityCheck(
            "standard_curve_r_squared",
            cf.r_squared >= min_r_squared,
            f"R^2 {cf.r_squared:.4f} (min {min_r_squared})",
        )
    )
    concs = sorted({float(w.entry.dose) for w in stds})  # type: ignore[arg-type]
    lam, highest = concs[0], concs[-1]
    floor = float(cf.predict(np.array([lam]))[0])

    def conc_of(reading: float) -> float:
        rising = cf.predict(np.array([highest]))[0] > floor
        if (reading <= floor) if rising else (reading >= floor):
            return 0.0
        v = cf.interpolate(reading)
        return v if math.isfinite(v) else highest * 10.0

    samples, more = quantify_samples(joined, conc_of, lam, highest, crit, response_cv=True)
    params = {"method": "mat_a", "criteria": crit.to_dict(), "min_r_squared": min_r_squared}
    prov = Provenance(ENGINE, cgtqc.__version__, params, [file_input(plate.path), file_input(layout.path)])
    curve = StandardCurve(
        float("nan"), float("nan"), math.sqrt(max(cf.r_squared, 0.0)), len(stds), tuple(concs)
    )
    return EndotoxinRun("mat_a", curve, samples, checks + more, prov)
