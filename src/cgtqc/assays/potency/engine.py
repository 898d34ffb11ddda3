"""Dose-response potency: 4PL/5PL fits, ED values, relative potency from the parallel model (USP <1034>).

* :func:`fit_curve` fits one curve (drc ``LL.4``/``LL.5`` least squares) and gives every parameter with its
  standard error and ED values with delta-method intervals.
* :func:`relative_potency` fits the constrained parallel model (shared slope and asymptotes), estimates
  RP = e_ref / e_test and its profile-likelihood interval, and assesses similarity first: a non-similar
  test sample gets no reportable relative potency.
* :func:`analyze_potency` does both for every sample of an assay and adds system-suitability checks.
* :func:`cgtqc.assays.potency.combine.combine_assays` combines independent assays on the log scale.

A dose of zero cannot be placed on a log-dose axis: by default it is refused; ``zero_dose="limit"`` uses
it as the zero-dose asymptote, exactly as drc does (the ``ryegrass`` controls).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, stats

import cgtqc
from cgtqc.assays.potency.fit import (
    MODELS,
    FitFailure,
    JointFit,
    build_design,
    curve,
    delta_se,
    dose_weights,
    ed_dose,
    fit_joint,
    inverse,
)
from cgtqc.assays.potency.similarity import SimilarityMargins, SimilarityResult, assess_similarity
from cgtqc.errors import InputError
from cgtqc.io.plate import DoseResponseData
from cgtqc.results import Measurement, Provenance, ValidityCheck, file_input

ENGINE = "cgtqc.potency"


@dataclass(frozen=True)
class ParameterEstimate:
    """A fitted parameter with its standard error and 95% interval."""

    name: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EffectiveDose:
    """ED_p (dose giving p % of the full response change) with its delta-method interval."""

    p: float
    dose: float
    se: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CurveFit:
    """One fitted dose-response curve; ``converged`` False means no parameters and no ED values."""

    sample: str
    model: str
    n: int
    converged: bool
    message: str = ""
    parameters: dict[str, ParameterEstimate] = field(default_factory=dict)
    ed50: EffectiveDose | None = None
    rss: float = float("nan")
    sigma: float = float("nan")
    df: int = 0
    r_squared: float = float("nan")
    dose_range: tuple[float, float] = (float("nan"), float("nan"))
    checks: list[ValidityCheck] = field(default_factory=list)
    _fit: JointFit | None = field(default=None, repr=False)

    @property
    def valid(self) -> bool:
        return self.converged and all(c.passed for c in self.checks)

    def natural(self) -> tuple[float, float, float, float, float]:
        """(b, c, d, e, g) of the fit."""
        p = self.parameters
        return (
            p["b"].estimate,
            p["c"].estimate,
            p["d"].estimate,
            p["e"].estimate,
            p["g"].estimate if "g" in p else 1.0,
        )

    def predict(self, dose: np.ndarray) -> np.ndarray:
        return curve(np.asarray(dose, dtype=float), *self.natural())

    def interpolate(self, response: float) -> float:
        """Dose giving ``response`` (NaN outside the asymptotes)."""
        return inverse(response, *self.natural())

    def ed(self, p: float, level: float = 0.95) -> EffectiveDose:
        """ED_p with a delta-method interval (t quantile on the residual degrees of freedom)."""
        if self._fit is None:
            raise ValueError("curve did not converge")
        fit = self._fit
        ix = {n.split("[")[0]: i for i, n in enumerate(fit.design.names)}

        def f(th: np.ndarray) -> float:
            g = math.exp(th[ix["logg"]]) if "logg" in ix else 1.0
            return ed_dose(p, th[ix["b"]], math.exp(th[ix["loge"]]), g)

        v, se = delta_se(fit, f)
        t = fit.t_quantile(level)
        return EffectiveDose(p, v, se, v - t * se, v + t * se)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample": self.sample,
            "model": self.model,
            "n": self.n,
            "converged": self.converged,
            "message": self.message,
            "parameters": {k: v.to_dict() for k, v in self.parameters.items()},
            "ed50": self.ed50.to_dict() if self.ed50 else None,
            "rss": self.rss,
            "sigma": self.sigma,
            "df": self.df,
            "r_squared": self.r_squared,
            "dose_range": list(self.dose_range),
            "valid": self.valid,
            "checks": [c.to_dict() for c in self.checks],
        }


def _arrays(data: DoseResponseData, zero_dose: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if zero_dose not in ("error", "limit"):
        raise ValueError("zero_dose must be 'error' or 'limit'")
    x = np.asarray(data.dose, dtype=float)
    y = np.asarray(data.response, dtype=float)
    for i, v in enumerate(x):
        if v < 0 or not math.isfinite(v):
            raise InputError(f"dose {v:g} is not a positive number", file=data.paths[0], place=data.places[i])
        if v == 0 and zero_dose == "error":
            raise InputError(
                "dose 0 cannot be placed on a log-dose scale (use zero_dose='limit' / --zero-dose "
                "limit to treat it as the zero-dose asymptote)",
                file=data.paths[0],
                place=data.places[i],
            )
    if not np.all(np.isfinite(y)):
        i = int(np.argmax(~np.isfinite(y)))
        raise InputError("response is not a finite number", file=data.paths[0], place=data.places[i])
    return x, y, list(data.group)


def _weights(
    data: DoseResponseData, x: np.ndarray, y: np.ndarray, groups: list[str], power: float
) -> np.ndarray | None:
    """Response weights (see :func:`dose_weights`); a zero mean response cannot be weighted."""
    try:
        return dose_weights(x, y, groups, power)
    except ValueError as exc:
        raise FitFailure(str(exc)) from exc


def _curve_from_fit(sample: str, model: str, fit: JointFit, x: np.ndarray, level: float) -> CurveFit:
    t = fit.t_quantile(level)
    params: dict[str, ParameterEstimate] = {}
    for i, name in enumerate(fit.design.names):
        base = name.split("[")[0]
        v, se = float(fit.theta[i]), math.sqrt(max(fit.cov[i, i], 0.0))
        if base in ("loge", "logg"):  # back to e and g; SE by the exact linear transform
            key = base[3:]
            params[key] = ParameterEstimate(
                key, math.exp(v), math.exp(v) * se, math.exp(v - t * se), math.exp(v + t * se)
            )
        else:
            params[base] = ParameterEstimate(base, v, se, v - t * se, v + t * se)
    pos = x[x > 0]
    cf = CurveFit(
        sample,
        model,
        fit.n,
        True,
        fit.message,
        dict(sorted(params.items())),
        None,
        fit.rss,
        fit.sigma,
        fit.df,
        fit.r_squared,
        (float(pos.min()), float(pos.max())) if len(pos) else (0.0, 0.0),
        _fit=fit,
    )
    cf.ed50 = cf.ed(50.0, level)
    lo, hi = cf.dose_range
    inside = lo <= cf.ed50.dose <= hi
    cf.checks.append(
        ValidityCheck(
            "ed50_within_dose_range", inside, f"ED50 {cf.ed50.dose:.4g} vs tested doses {lo:.4g}-{hi:.4g}"
        )
    )
    k = len(fit.design.names)
    tss = fit.rss / (1.0 - fit.r_squared) if fit.r_squared < 1 else float("inf")
    f_stat = ((tss - fit.rss) / (k - 1)) / (fit.rss / fit.df) if fit.df > 0 and fit.rss > 0 else float("inf")
    p = float(stats.f.sf(f_stat, k - 1, fit.df)) if math.isfinite(f_stat) else 0.0
    cf.checks.append(
        ValidityCheck(
            "dose_response_significant",
            p < 0.01,
            f"F test of the curve against a flat line: p = {p:.2g} (must be < 0.01)",
        )
    )
    cf.checks.append(
        ValidityCheck(
            "ed50_interval_bounded",
            cf.ed50.ci_low > 0 and math.isfinite(cf.ed50.ci_high),
            f"95% interval {cf.ed50.ci_low:.4g}-{cf.ed50.ci_high:.4g}",
        )
    )
    return cf


def fit_curve(
    data: DoseResponseData,
    *,
    model: str = "4pl",
    zero_dose: str = "error",
    level: float = 0.95,
    sample: str | None = None,
    weight_power: float = 0.0,
) -> CurveFit:
    """Fit one 4PL/5PL curve to all points of ``data``; a failed fit comes back with converged=False.

    ``weight_power`` > 0 weights each point by 1/|mean response at its dose|^(2 power) (0: unweighted)."""
    if model not in MODELS:
        raise InputError(f"unknown model {model!r} (choose {', '.join(MODELS)})")
    x, y, _ = _arrays(data, zero_dose)
    name = sample or (data.groups[0] if len(data.groups) == 1 else "all")
    groups = [name] * len(x)
    try:
        w = _weights(data, x, y, groups, weight_power)
        fit = fit_joint(x, y, groups, build_design(groups, model, parallel=False), weights=w)
    except FitFailure as exc:
        return CurveFit(
            name, model, len(x), False, str(exc), checks=[ValidityCheck("fit_converged", False, str(exc))]
        )
    cf = _curve_from_fit(name, model, fit, x, level)
    cf.checks.insert(0, ValidityCheck("fit_converged", True, fit.message))
    return cf


@dataclass
class RelativePotency:
    """Relative potency of ``test`` vs ``reference`` from the parallel model, with its similarity verdict.

    ``estimate`` is None when the curves are non-similar or the parallel fit failed: never pooled silently.
    """

    test: str
    reference: str
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    log_se: float | None
    df: int
    method: str
    similarity: SimilarityResult
    wald_ci: tuple[float, float] | None = None
    message: str = ""

    @property
    def reportable(self) -> bool:
        return self.estimate is not None and self.similarity.similar

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "reference": self.reference,
            "relative_potency": self.estimate,
            "relative_potency_pct": None if self.estimate is None else 100.0 * self.estimate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "log_se": self.log_se,
            "df": self.df,
            "interval_method": self.method,
            "wald_ci": list(self.wald_ci) if self.wald_ci else None,
            "reportable": self.reportable,
            "similarity": self.similarity.to_dict(),
            "message": self.message,
        }


def _profile_interval(
    x: np.ndarray,
    y: np.ndarray,
    groups: list[str],
    model: str,
    reference: str,
    test: str,
    fit: JointFit,
    level: float,
    weights: np.ndarray | None = None,
) -> tuple[float, float]:
    """Profile-likelihood interval of log rho: RSS(log rho) - RSS_min = t^2 s^2 (F(1, df) on the RSS)."""
    name = f"logrho[{test}]"
    est = fit.value(name)
    se = math.sqrt(fit.cov[fit.index(name), fit.index(name)])
    s2 = fit.rss / fit.df
    target = fit.rss + fit.t_quantile(level) ** 2 * s2
    others = [i for i, n in enumerate(fit.design.names) if n != name]

    def excess(v: float) -> float:
        design = build_design(groups, model, parallel=True, reference=reference, fixed={name: v})
        try:
            f = fit_joint(x, y, groups, design, weights=weights, theta0=fit.theta[others], fixed={name: v})
        except FitFailure:
            return float("inf")
        return f.rss - target

    bounds = []
    for sign in (-1.0, 1.0):
        step, inner, found = max(se, 1e-3), est, None
        for _ in range(30):
            outer = inner + sign * step
            if excess(outer) > 0:
                found = optimize.brentq(excess, min(inner, outer), max(inner, outer), xtol=1e-7)
                break
            inner, step = outer, step * 1.6
        bounds.append(found if found is not None else float("nan"))
    return bounds[0], bounds[1]


def relative_potency(
    data: DoseResponseData,
    reference: str,
    test: str,
    *,
    model: str = "4pl",
    margins: SimilarityMargins | None = None,
    zero_dose: str = "error",
    level: float = 0.95,
    weight_power: float = 0.0,
) -> RelativePotency:
    """Relative potency of ``test`` vs ``reference``: similarity first, then the parallel model."""
    x, y, groups = _arrays(data, zero_dose)
    for g in (reference, test):
        if g not in groups:
            raise InputError(
                f"no sample named {g!r} (samples: {', '.join(dict.fromkeys(groups))})", file=data.paths[0]
            )
    mask = np.array([g in (reference, test) for g in groups])
    xs, ys, gs = x[mask], y[mask], [g for g in groups if g in (reference, test)]
    try:
        w = _weights(data, xs, ys, gs, weight_power)
    except FitFailure as exc:
        raise InputError(str(exc), file=data.paths[0]) from exc
    sim = assess_similarity(xs, ys, gs, reference, test, model, margins, weights=w)
    design = build_design(gs, model, parallel=True, reference=reference)
    try:
        fit = fit_joint(xs, ys, gs, design, weights=w)
    except FitFailure as exc:
        return RelativePotency(
            test,
            reference,
            None,
            None,
            None,
            None,
            0,
            "profile likelihood",
            sim,
            message=f"parallel model did not converge ({exc})",
        )
    name = f"logrho[{test}]"
    log_rp = fit.value(name)
    log_se = math.sqrt(fit.cov[fit.index(name), fit.index(name)])
    t = fit.t_quantile(level)
    wald = (math.exp(log_rp - t * log_se), math.exp(log_rp + t * log_se))
    lo, hi = _profile_interval(xs, ys, gs, model, reference, test, fit, level, w)
    if not sim.similar:
        return RelativePotency(
            test,
            reference,
            None,
            None,
            None,
            log_se,
            fit.df,
            "profile likelihood",
            sim,
            message="not reportable: " + sim.verdict,
        )
    method = "profile likelihood"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi, method = math.log(wald[0]), math.log(wald[1]), "Wald (profile did not close)"
    return RelativePotency(
        test, reference, math.exp(log_rp), math.exp(lo), math.exp(hi), log_se, fit.df, method, sim, wald
    )


@dataclass(frozen=True)
class SuitabilityCriteria:
    """System-suitability limits; the defaults are common conventions, editable per assay."""

    min_r_squared: float = 0.95
    min_asymptote_ratio: float = 2.0
    max_replicate_cv_pct: float = 20.0
    rp_range: tuple[float, float] = (0.5, 2.0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def replicate_cv(data: DoseResponseData, sample: str) -> float:
    """Largest CV (%) of replicate responses at one dose of ``sample`` (0 without replicates)."""
    cvs = [0.0]
    sub = data.subset(sample)
    for d in set(sub.dose):
        vals = np.array([r for dd, r in zip(sub.dose, sub.response, strict=True) if dd == d])
        if len(vals) > 1 and np.mean(vals) != 0:
            cvs.append(100.0 * float(np.std(vals, ddof=1) / abs(np.mean(vals))))
    return max(cvs)


@dataclass
class PotencyAnalysis:
    """Every curve of an assay, each test sample's relative potency and the system-suitability checks."""

    model: str
    reference: str | None
    curves: dict[str, CurveFit]
    relative_potencies: list[RelativePotency]
    checks: list[ValidityCheck]
    provenance: Provenance

    @property
    def valid(self) -> bool:
        return all(c.passed for c in self.checks)

    def potency(self, test: str) -> RelativePotency:
        for rp in self.relative_potencies:
            if rp.test == test:
                return rp
        raise KeyError(test)

    def to_measurement(self, cqa: str, test: str, sample: str | None = None) -> Measurement:
        """Relative potency (%) of ``test`` as a Measurement; value None when not reportable."""
        rp = self.potency(test)
        checks = list(self.checks) + [
            ValidityCheck(f"similarity[{test}]", rp.similarity.similar, rp.similarity.verdict)
        ]
        if rp.estimate is None:
            checks.append(ValidityCheck(f"relative_potency_estimable[{test}]", False, rp.message))
            return Measurement(
                cqa, None, "%", self.provenance, checks, sample=sample or test, note=rp.message
            )
        return Measurement(
            cqa,
            100.0 * rp.estimate,
            "%",
            self.provenance,
            checks,
            ci_low=100.0 * rp.ci_low,
            ci_high=100.0 * rp.ci_high,
            sample=sample or test,
            note=f"relative potency vs {rp.reference}, {rp.method} 95% interval",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "reference": self.reference,
            "valid": self.valid,
            "curves": {k: v.to_dict() for k, v in self.curves.items()},
            "relative_potencies": [r.to_dict() for r in self.relative_potencies],
            "checks": [c.to_dict() for c in self.checks],
            "provenance": self.provenance.to_dict(),
        }


def analyze_potency(
    data: DoseResponseData,
    *,
    model: str = "4pl",
    reference: str | None = None,
    margins: SimilarityMargins | None = None,
    criteria: SuitabilityCriteria | None = None,
    zero_dose: str = "error",
    level: float = 0.95,
    weight_power: float = 0.0,
) -> PotencyAnalysis:
    """Fit each sample; with a reference, relative potency and similarity of every other sample."""
    margins = margins or SimilarityMargins()
    criteria = criteria or SuitabilityCriteria()
    _arrays(data, zero_dose)  # validate once, before any fitting
    curves = {
        g: fit_curve(
            data.subset(g), model=model, zero_dose=zero_dose, level=level, sample=g, weight_power=weight_power
        )
        for g in data.groups
    }
    checks: list[ValidityCheck] = []
    rps: list[RelativePotency] = []
    if reference is not None:
        if reference not in curves:
            raise InputError(
                f"no reference sample {reference!r} (samples: {', '.join(curves)})", file=data.paths[0]
            )
        ref = curves[reference]
        checks.append(ValidityCheck("reference_fit_converged", ref.converged, ref.message))
        if ref.converged:
            checks.append(
                ValidityCheck(
                    "reference_r_squared",
                    ref.r_squared >= criteria.min_r_squared,
                    f"R^2 {ref.r_squared:.4f} (min {criteria.min_r_squared})",
                )
            )
            _, c, d, _, _ = ref.natural()
            lower, upper = min(c, d), max(c, d)
            ratio = upper / lower if lower > 0 else float("inf")
            checks.append(
                ValidityCheck(
                    "reference_asymptote_ratio",
                    ratio >= criteria.min_asymptote_ratio,
                    f"upper/lower {ratio:.3g} (min {criteria.min_asymptote_ratio})",
                )
            )
        for g, cf in curves.items():
            checks.extend(ValidityCheck(f"{c.name}[{g}]", c.passed, c.detail) for c in cf.checks)
            cv = replicate_cv(data, g)
            checks.append(
                ValidityCheck(
                    f"replicate_cv[{g}]",
                    cv <= criteria.max_replicate_cv_pct,
                    f"largest CV {cv:.1f}% (max {criteria.max_replicate_cv_pct}%)",
                )
            )
        for g in curves:
            if g == reference:
                continue
            rp = relative_potency(
                data,
                reference,
                g,
                model=model,
                margins=margins,
                zero_dose=zero_dose,
                level=level,
                weight_power=weight_power,
            )
            rps.append(rp)
            if rp.estimate is not None:
                lo, hi = criteria.rp_range
                checks.append(
                    ValidityCheck(
                        f"rp_within_assay_range[{g}]",
                        lo <= rp.estimate <= hi,
                        f"RP {rp.estimate:.3f} (assay range {lo}-{hi})",
                    )
                )
    params = {
        "model": model,
        "reference": reference,
        "zero_dose": zero_dose,
        "level": level,
        "weight_power": weight_power,
        "margins": margins.to_dict(),
        "criteria": criteria.to_dict(),
    }
    inputs = [file_input(p) for p in data.paths if p and Path(p).is_file()]
    prov = Provenance(ENGINE, cgtqc.__version__, params, inputs)
    return PotencyAnalysis(model, reference, curves, rps, checks, prov)
