"""Process capability: Cp, Cpk (within σ), Pp, Ppk (overall σ), with confidence intervals and warnings.

* within σ: MR̄/d2(2) for individual lots, or the subgroups' pooled σ / c4(Σ(n_i − 1) + 1) (Minitab's
  default); overall σ: the sample standard deviation.
* Cp = (USL − LSL)/(6σ), Cpk = min(USL − µ, µ − LSL)/(3σ); one-sided specifications give only Cpk (= CPU or
  CPL) and Ppk.
* Intervals (two-sided, 95% by default): Cp and Pp by the χ² distribution on n − 1 degrees of freedom;
  Cpk and Ppk by Bissell (1990): Ĉ ± z √(1/(9n) + Ĉ²/(2(n − 1))).
* Warnings: fewer than ``min_lots`` values (25 by default) and normality rejected by Anderson–Darling
  (p < 0.05, statsmodels ``normal_ad`` with the Stephens small-sample correction).
* ``method='boxcox'`` transforms values and limits with the maximum-likelihood λ (scipy) first;
  ``'nonparametric'`` uses the ISO 22514-2 percentile method (0.135%, 50%, 99.865% quantiles) for Pp/Ppk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from cgtqc.errors import InputError
from cgtqc.trend.charts import c4, d2

METHODS = ("normal", "boxcox", "nonparametric")


@dataclass
class Interval:
    estimate: float | None
    low: float | None
    high: float | None

    def to_dict(self) -> dict:
        return {"estimate": self.estimate, "ci_low": self.low, "ci_high": self.high}


@dataclass
class Capability:
    n: int
    mean: float
    sigma_within: float | None
    sigma_overall: float
    lsl: float | None
    usl: float | None
    cp: Interval
    cpk: Interval
    pp: Interval
    ppk: Interval
    cpl: float | None
    cpu: float | None
    ppl: float | None
    ppu: float | None
    confidence: float
    method: str
    anderson_darling: float
    normality_p: float
    boxcox_lambda: float | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "mean": self.mean,
            "sigma_within": self.sigma_within,
            "sigma_overall": self.sigma_overall,
            "lsl": self.lsl,
            "usl": self.usl,
            "cp": self.cp.estimate,
            "cpk": self.cpk.estimate,
            "pp": self.pp.estimate,
            "ppk": self.ppk.estimate,
            "cpl": self.cpl,
            "cpu": self.cpu,
            "ppl": self.ppl,
            "ppu": self.ppu,
            "intervals": {k: getattr(self, k).to_dict() for k in ("cp", "cpk", "pp", "ppk")},
            "confidence": self.confidence,
            "method": self.method,
            "normality": {
                "test": "Anderson-Darling",
                "statistic": self.anderson_darling,
                "p_value": self.normality_p,
            },
            "boxcox_lambda": self.boxcox_lambda,
            "warnings": self.warnings,
        }


def cp_interval(c: float, n: int, confidence: float) -> Interval:
    """χ² interval of Cp (or Pp) on n − 1 degrees of freedom."""
    a = 1 - confidence
    df = n - 1
    return Interval(
        c, c * math.sqrt(stats.chi2.ppf(a / 2, df) / df), c * math.sqrt(stats.chi2.ppf(1 - a / 2, df) / df)
    )


def bissell_interval(c: float, n: int, confidence: float) -> Interval:
    """Bissell's (1990) normal-approximation interval of Cpk (or Ppk)."""
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    half = z * math.sqrt(1 / (9 * n) + c * c / (2 * (n - 1)))
    return Interval(c, c - half, c + half)


def within_sigma(x: np.ndarray, groups: np.ndarray | None = None) -> float:
    """MR̄/d2(2) for individuals; pooled σ / c4(d) for subgroups (d = Σ(n_i − 1) + 1)."""
    if groups is None:
        return float(np.abs(np.diff(x)).mean() / d2(2))
    _, g = np.unique(groups, return_inverse=True)
    sizes = np.bincount(g)
    means = np.bincount(g, weights=x) / sizes
    ss = float(((x - means[g]) ** 2).sum())
    dof = int((sizes - 1).sum())
    if dof < 1:
        raise InputError("subgroups of one value: no within-subgroup variation")
    return math.sqrt(ss / dof) / float(c4(dof + 1))


def _indices(mu: float, s: float, lsl: float | None, usl: float | None) -> tuple:
    lo = (mu - lsl) / (3 * s) if lsl is not None else None
    hi = (usl - mu) / (3 * s) if usl is not None else None
    both = (usl - lsl) / (6 * s) if lsl is not None and usl is not None else None
    k = min(v for v in (lo, hi) if v is not None)
    return both, k, lo, hi


def capability(
    values: np.ndarray,
    lsl: float | None = None,
    usl: float | None = None,
    groups: np.ndarray | None = None,
    confidence: float = 0.95,
    min_lots: int = 25,
    method: str = "normal",
    normality_alpha: float = 0.05,
) -> Capability:
    """Capability of ``values`` against one- or two-sided specification limits."""
    from statsmodels.stats.diagnostic import normal_ad

    if method not in METHODS:
        raise InputError(f"unknown capability method {method!r} ({', '.join(METHODS)})")
    if lsl is None and usl is None:
        raise InputError("give a lower and/or an upper specification limit (--lsl, --usl)")
    if lsl is not None and usl is not None and lsl >= usl:
        raise InputError(f"lower limit {lsl} is not below upper limit {usl}")
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n < 3:
        raise InputError(f"too few values for capability: {n} (at least 3)")
    warnings: list[str] = []
    if n < min_lots:
        warnings.append(f"only {n} lots (< {min_lots}): capability indices are imprecise")
    lam = None
    lo_l, hi_l = lsl, usl
    if method == "boxcox":
        if np.any(x <= 0) or (lsl is not None and lsl <= 0):
            raise InputError("Box-Cox needs positive values and limits")
        x, lam = stats.boxcox(x)
        lam = float(lam)
        tf = lambda v: None if v is None else float(stats.boxcox(np.array([v]), lmbda=lam)[0])  # noqa: E731
        lo_l, hi_l = tf(lsl), tf(usl)
    ad, p_norm = normal_ad(x)
    ad, p_norm = float(ad), float(p_norm)
    if p_norm < normality_alpha and method == "normal":
        warnings.append(
            f"normality rejected (Anderson-Darling A2 = {ad:.3f}, p = {p_norm:.3g}): "
            "consider --method boxcox "
            "or nonparametric"
        )
    mu = float(x.mean())
    s_all = float(x.std(ddof=1))
    if s_all <= 0:
        raise InputError("the values do not vary: capability is undefined")
    if method == "nonparametric":
        q_lo, q_med, q_hi = np.quantile(x, [0.00135, 0.5, 0.99865])
        if n < 1000:
            warnings.append(
                f"percentile method with {n} values: the 0.135% and 99.865% quantiles are extrapolated"
                " from few data"
            )
        ppl = float((q_med - lsl) / (q_med - q_lo)) if lsl is not None else None
        ppu = float((usl - q_med) / (q_hi - q_med)) if usl is not None else None
        pp = float((usl - lsl) / (q_hi - q_lo)) if lsl is not None and usl is not None else None
        ppk = min(v for v in (ppl, ppu) if v is not None)
        none = Interval(None, None, None)
        return Capability(
            n,
            float(q_med),
            None,
            s_all,
            lsl,
            usl,
            none,
            none,
            Interval(pp, None, None),
            Interval(ppk, None, None),
            None,
            None,
            ppl,
            ppu,
            confidence,
            method,
            ad,
            p_norm,
            None,
            warnings,
        )
    s_w = within_sigma(x, groups)
    cp, cpk, cpl, cpu = _indices(mu, s_w, lo_l, hi_l)
    pp, ppk, ppl, ppu = _indices(mu, s_all, lo_l, hi_l)
    none = Interval(None, None, None)
    return Capability(
        n,
        mu,
        s_w,
        s_all,
        lsl,
        usl,
        cp_interval(cp, n, confidence) if cp is not None else none,
        bissell_interval(cpk, n, confidence),
        cp_interval(pp, n, confidence) if pp is not None else none,
        bissell_interval(ppk, n, confidence),
        cpl,
        cpu,
        ppl,
        ppu,
        confidence,
        method,
        ad,
        p_norm,
        lam,
        warnings,
    )
