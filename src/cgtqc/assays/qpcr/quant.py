"""qPCR quantification: standard curves, absolute quantities, LOD95 (probit), LOQ, ΔΔCq and Pfaffl.

Formulas (defaults are named parameters, recorded in each result's provenance):

- Standard curve ``Cq = slope * log10(N) + intercept``; efficiency ``E = 10**(-1/slope) - 1``
  (slope -3.32 gives 100%). Accepted when 90% <= E <= 110% and R² >= 0.98.
- Quantity of an unknown ``N = 10**((Cq - intercept)/slope)`` with the 95% interval of the inverse
  prediction (classical calibration: residual SD, number of replicates, distance from the curve centre).
- LOD95: probit regression (statsmodels GLM, binomial, probit link) of replicate hit rates on
  log10(concentration); LOD95 is the concentration with a 95% predicted hit rate, its 95% interval by the
  delta method. LOQ: the lowest standard level from which up, every level's back-calculated quantities have
  CV <= 35% and mean bias within ±50% (MIQE-style defaults).
- Relative expression: ratio ``E_t**ΔCq_t / E_r**ΔCq_r`` with ``ΔCq = Cq(control) - Cq(sample)`` and E as
  amplification factor (Pfaffl); with E = 2 this is Livak's ``2**-ΔΔCq``. The interval propagates the SD of
  each mean Cq (and of E when given) into log(ratio) and uses Student t with Welch-Satterthwaite df.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from cgtqc import __version__
from cgtqc.assays.qpcr.cq_tables import CqRecord
from cgtqc.errors import InputError
from cgtqc.results import InputFile, Provenance, ValidityCheck

ENGINE_CURVE = "cgtqc.qpcr.standard_curve"
ENGINE_LOD = "cgtqc.qpcr.lod"
ENGINE_REL = "cgtqc.qpcr.relative"
EFFICIENCY_RANGE_PCT = (90.0, 110.0)
MIN_R2 = 0.98


@dataclass
class StandardCurve:
    """Fitted standard curve with its acceptance checks."""

    target: str
    slope: float
    intercept: float
    r2: float
    efficiency_pct: float
    n_points: int
    levels: int
    residual_sd: float
    mean_log_quantity: float
    sxx: float
    provenance: Provenance
    checks: list[ValidityCheck] = field(default_factory=list)

    @property
    def amplification_factor(self) -> float:
        return 1.0 + self.efficiency_pct / 100.0

    @property
    def accepted(self) -> bool:
        return all(c.passed for c in self.checks)

    def quantity(self, cq: float | Sequence[float]) -> tuple[float, float, float]:
        """Quantity for one Cq or the mean of replicate Cqs, with its 95% inverse-prediction interval."""
        cqs = np.atleast_1d(np.asarray(cq, dtype=float))
        k = len(cqs)
        log_q = (float(cqs.mean()) - self.intercept) / self.slope
        df = self.n_points - 2
        if df < 1 or not math.isfinite(self.residual_sd):
            return 10**log_q, float("nan"), float("nan")
        se = (
            self.residual_sd
            / abs(self.slope)
            * math.sqrt(1.0 / k + 1.0 / self.n_points + (log_q - self.mean_log_quantity) ** 2 / self.sxx)
        )
        t = float(stats.t.ppf(0.975, df))
        return 10**log_q, 10 ** (log_q - t * se), 10 ** (log_q + t * se)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "slope": self.slope,
            "intercept": self.intercept,
            "r2": self.r2,
            "efficiency_pct": self.efficiency_pct,
            "n_points": self.n_points,
            "levels": self.levels,
            "accepted": self.accepted,
            "checks": [c.to_dict() for c in self.checks],
            "provenance": self.provenance.to_dict(),
        }


def fit_standard_curve(
    quantities: Sequence[float],
    cqs: Sequence[float | None],
    target: str = "",
    efficiency_range_pct: tuple[float, float] = EFFICIENCY_RANGE_PCT,
    min_r2: float = MIN_R2,
    inputs: list[InputFile] | None = None,
) -> StandardCurve:
    """Least-squares Cq on log10(quantity). Points without a Cq are left out (and counted)."""
    pts = [(float(q), float(c)) for q, c in zip(quantities, cqs, strict=True) if c is not None]
    if any(q <= 0 for q, _ in pts):
        raise InputError(f"standard quantities must be > 0 (target {target!r})")
    x = np.log10([q for q, _ in pts])
    y = np.array([c for _, c in pts])
    levels = len(set(np.round(x, 9)))
    if levels < 3:
        raise InputError(
            f"a standard curve needs at least 3 quantity levels with a Cq, got {levels} (target {target!r})"
        )
    slope, intercept = np.polyfit(x, y, 1)
    fitted = slope * x + intercept
    ss_res = float(((y - fitted) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    eff = (10 ** (-1.0 / slope) - 1.0) * 100.0 if slope < 0 else float("nan")
    lo, hi = efficiency_range_pct
    checks = [
        ValidityCheck(
            "standard_curve_efficiency",
            bool(lo <= eff <= hi),
            f"efficiency {eff:.1f}% (accepted {lo:g}-{hi:g}%), slope {slope:.3f}",
        ),
        ValidityCheck("standard_curve_r2", r2 >= min_r2, f"R² {r2:.4f} (accepted >= {min_r2:g})"),
    ]
    dropped = len(quantities) - len(pts)
    params = {
        "efficiency_range_pct": list(efficiency_range_pct),
        "min_r2": min_r2,
        "target": target,
        "standards_without_cq": dropped,
    }
    return StandardCurve(
        target=target,
        slope=float(slope),
        intercept=float(intercept),
        r2=r2,
        efficiency_pct=eff,
        n_points=len(y),
        levels=levels,
        residual_sd=math.sqrt(ss_res / (len(y) - 2)) if len(y) > 2 else float("nan"),
        mean_log_quantity=float(x.mean()),
        sxx=float(((x - x.mean()) ** 2).sum()),
        provenance=Provenance(ENGINE_CURVE, __version__, params, inputs or []),
        checks=checks,
    )


def curve_from_records(
    records: Iterable[CqRecord],
    target: str | None = None,
    inputs: list[InputFile] | None = None,
    **kwargs: Any,
) -> StandardCurve:
    """Standard curve from the 'std' wells of a Cq table (one target; the only one when not named)."""
    std = [r for r in records if r.task == "std" and not r.omitted and r.quantity is not None]
    targets = sorted({r.target for r in std})
    if target is None:
        if len(targets) != 1:
            raise InputError(f"name the standard-curve target; standards exist for {targets or 'none'}")
        target = targets[0]
    pts = [r for r in std if r.target == target]
    if not pts:
        raise InputError(f"no standard wells with a quantity for target {target!r} (targets: {targets})")
    return fit_standard_curve(
        [r.quantity for r in pts], [r.cq for r in pts], target=target, inputs=inputs, **kwargs
    )


@dataclass
class SampleQuantity:
    """Quantity of one sample and target from replicate Cqs on a standard curve."""

    sample: str
    target: str
    cqs: list[float | None]
    mean_cq: float | None
    sd_cq: float | None
    quantity: float | None
    ci_low: float | None
    ci_high: float | None
    detected: int
    replicates: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def quantify_samples(
    records: Iterable[CqRecord], curve: StandardCurve, tasks: tuple[str, ...] = ("unkn",)
) -> list[SampleQuantity]:
    """Quantities of every sample of the curve's target (replicates pooled by sample name)."""
    groups: dict[str, list[float | None]] = {}
    for r in records:
        if r.target == curve.target and r.task in tasks and not r.omitted:
            groups.setdefault(r.sample, []).append(r.cq)
    out = []
    for sample, cqs in groups.items():
        vals = [c for c in cqs if c is not None]
        if vals:
            q, lo, hi = curve.quantity(vals)
            sd = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
            out.append(
                SampleQuantity(
                    sample,
                    curve.target,
                    cqs,
                    float(np.mean(vals)),
                    sd,
                    q,
                    _f(lo),
                    _f(hi),
                    len(vals),
                    len(cqs),
                )
            )
        else:
            out.append(SampleQuantity(sample, curve.target, cqs, None, None, None, None, None, 0, len(cqs)))
    return out


def _f(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


@dataclass
class LimitOfDetection:
    """LOD95 by probit with the hit rates it was fitted on."""

    lod95: float | None
    ci_low: float | None
    ci_high: float | None
    lowest_level_all_detected: float | None
    levels: list[dict[str, float]]
    intercept: float | None
    slope: float | None
    provenance: Provenance
    checks: list[ValidityCheck] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k not in ("provenance", "checks")}
        d["checks"] = [c.to_dict() for c in self.checks]
        d["provenance"] = self.provenance.to_dict()
        return d


def lod_probit(
    concentrations: Sequence[float],
    detected: Sequence[int],
    replicates: Sequence[int],
    hit_rate: float = 0.95,
    inputs: list[InputFile] | None = None,
) -> LimitOfDetection:
    """LOD at ``hit_rate`` from replicate hit counts per concentration level (probit on log10 conc)."""
    import statsmodels.api as sm

    conc = np.asarray(concentrations, dtype=float)
    hits = np.asarray(detected, dtype=float)
    n = np.asarray(replicates, dtype=float)
    if len(conc) < 3 or not (len(conc) == len(hits) == len(n)):
        raise InputError(
            "LOD needs at least 3 concentration levels with equal-length hit and replicate counts"
        )
    if (conc <= 0).any() or (n <= 0).any() or (hits < 0).any() or (hits > n).any():
        raise InputError("concentrations and replicate counts must be > 0 and 0 <= detected <= replicates")
    levels = [
        {"concentration": float(c), "detected": int(h), "replicates": int(k), "hit_rate": float(h / k)}
        for c, h, k in sorted(zip(conc, hits, n, strict=True))
    ]
    all_hit = [lv["concentration"] for lv in levels if lv["hit_rate"] == 1.0]
    # lowest level from which up every level detected all replicates
    lowest_all = None
    for lv in reversed(levels):
        if lv["hit_rate"] < 1.0:
            break
        lowest_all = lv["concentration"]
    x = np.log10(conc)
    params = {"hit_rate": hit_rate, "model": "GLM binomial, probit link, log10 concentration"}
    prov = Provenance(ENGINE_LOD, __version__, params, inputs or [])
    rates = hits / n

    def no_lod(reason: str, intercept: float | None = None, slope: float | None = None) -> LimitOfDetection:
        """No LOD95 can be given: the failed 'lod_fit' check says why."""
        checks = [ValidityCheck("lod_fit", False, reason)]
        return LimitOfDetection(None, None, None, lowest_all, levels, intercept, slope, prov, checks)

    if rates.min() == rates.max() or not all_hit:
        return no_lod("hit rates do not span detection and non-detection: probit cannot be fitted")
    design = sm.add_constant(x)
    model = sm.GLM(
        np.column_stack([hits, n - hits]),
        design,
        family=sm.families.Binomial(link=sm.families.links.Probit()),
    )
    try:
        fit = model.fit()
    except Exception as exc:  # perfect separation and the like
        return no_lod(f"probit fit failed: {exc}")
    b0, b1 = (float(v) for v in fit.params)
    if not b1 > 0:
        return no_lod("hit rate does not rise with concentration", b0, b1)
    z = stats.norm.ppf(hit_rate)
    log_lod = (z - b0) / b1
    cov = np.asarray(fit.cov_params())
    grad = np.array([-1.0 / b1, -(z - b0) / b1**2])
    se = math.sqrt(max(float(grad @ cov @ grad), 0.0))
    checks = [ValidityCheck("lod_fit", True, f"probit intercept {b0:.3f}, slope {b1:.3f} per log10")]
    return LimitOfDetection(
        10**log_lod,
        10 ** (log_lod - 1.96 * se),
        10 ** (log_lod + 1.96 * se),
        lowest_all,
        levels,
        b0,
        b1,
        prov,
        checks,
    )


def loq_from_standards(
    curve: StandardCurve, records: Iterable[CqRecord], max_cv: float = 0.35, max_bias: float = 0.5
) -> float | None:
    """Lowest standard level from which up all levels meet CV and bias limits (None if none does)."""
    by_level: dict[float, list[float]] = {}
    for r in records:
        if r.task == "std" and r.target == curve.target and r.quantity and not r.omitted:
            by_level.setdefault(r.quantity, [])
            if r.cq is not None:
                by_level[r.quantity].append(10 ** ((r.cq - curve.intercept) / curve.slope))
    loq = None
    for level in sorted(by_level, reverse=True):
        backs = np.array(by_level[level])
        if len(backs) < 2:
            break
        cv = float(backs.std(ddof=1) / backs.mean())
        bias = abs(float(backs.mean()) / level - 1.0)
        if cv > max_cv or bias > max_bias:
            break
        loq = level
    return loq


@dataclass
class RelativeExpression:
    """Expression ratio of a target (normalised to a reference gene) in a sample versus a control."""

    method: str
    ratio: float
    ci_low: float
    ci_high: float
    delta_cq_target: float
    delta_cq_reference: float
    efficiency_target: float
    efficiency_reference: float
    provenance: Provenance

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "provenance"}
        d["provenance"] = self.provenance.to_dict()
        return d


def _mean_var(cqs: Sequence[float | None], what: str) -> tuple[float, float, int]:
    vals = [float(c) for c in cqs if c is not None]
    if not vals:
        raise InputError(f"no Cq for {what}")
    var = float(np.var(vals, ddof=1)) / len(vals) if len(vals) > 1 else 0.0
    return float(np.mean(vals)), var, len(vals)


def relative_expression(
    target_sample: Sequence[float | None],
    target_control: Sequence[float | None],
    ref_sample: Sequence[float | None],
    ref_control: Sequence[float | None],
    efficiency_target: float = 2.0,
    efficiency_reference: float = 2.0,
    efficiency_target_sd: float = 0.0,
    efficiency_reference_sd: float = 0.0,
    confidence: float = 0.95,
    inputs: list[InputFile] | None = None,
) -> RelativeExpression:
    """Pfaffl ratio (Livak 2**-ΔΔCq when both efficiencies are 2) with a propagated interval."""
    for name, e in (("target", efficiency_target), ("reference", efficiency_reference)):
        if not 1.0 < e <= 2.2:
            raise InputError(f"{name} efficiency must be an amplification factor in (1, 2.2], got {e}")
    parts = [
        _mean_var(target_sample, "target in sample"),
        _mean_var(target_control, "target in control"),
        _mean_var(ref_sample, "reference in sample"),
        _mean_var(ref_control, "reference in control"),
    ]
    (ts, vts, nts), (tc, vtc, ntc), (rs, vrs, nrs), (rc, vrc, nrc) = parts
    d_t, d_r = tc - ts, rc - rs
    ln_et, ln_er = math.log(efficiency_target), math.log(efficiency_reference)
    log_ratio = d_t * ln_et - d_r * ln_er
    var_terms = [ln_et**2 * vts, ln_et**2 * vtc, ln_er**2 * vrs, ln_er**2 * vrc]
    dfs = [nts - 1, ntc - 1, nrs - 1, nrc - 1]
    var = (
        sum(var_terms)
        + (d_t / efficiency_target * efficiency_target_sd) ** 2
        + (d_r / efficiency_reference * efficiency_reference_sd) ** 2
    )
    num = sum(var_terms) ** 2
    den = sum(v**2 / d for v, d in zip(var_terms, dfs, strict=True) if d > 0 and v > 0)
    df = num / den if den > 0 else float("inf")
    q = stats.t.ppf(0.5 + confidence / 2, df) if math.isfinite(df) else stats.norm.ppf(0.5 + confidence / 2)
    half = q * math.sqrt(var)
    livak = (
        efficiency_target == efficiency_reference == 2.0
        and efficiency_target_sd == 0 == efficiency_reference_sd
    )
    params = {
        "efficiency_target": efficiency_target,
        "efficiency_reference": efficiency_reference,
        "efficiency_target_sd": efficiency_target_sd,
        "efficiency_reference_sd": efficiency_reference_sd,
        "confidence": confidence,
        "df": df if math.isfinite(df) else None,
    }
    return RelativeExpression(
        method="livak" if livak else "pfaffl",
        ratio=math.exp(log_ratio),
        ci_low=math.exp(log_ratio - half),
        ci_high=math.exp(log_ratio + half),
        delta_cq_target=d_t,
        delta_cq_reference=d_r,
        efficiency_target=efficiency_target,
        efficiency_reference=efficiency_reference,
        provenance=Provenance(ENGINE_REL, __version__, params, inputs or []),
    )


def relative_from_records(
    records: Iterable[CqRecord], target: str, reference: str, sample: str, control: str, **kwargs: Any
) -> RelativeExpression:
    """ΔΔCq / Pfaffl from a Cq table by target, reference gene, sample and control (calibrator) names."""
    recs = [r for r in records if not r.omitted]

    def cqs(t: str, s: str) -> list[float | None]:
        found = [r.cq for r in recs if r.target == t and r.sample == s]
        if not found:
            raise InputError(
                f"no wells for target {t!r} in sample {s!r} (samples: "
                f"{sorted({r.sample for r in recs})}, targets: {sorted({r.target for r in recs})})"
            )
        return found

    return relative_expression(
        cqs(target, sample), cqs(target, control), cqs(reference, sample), cqs(reference, control), **kwargs
    )
