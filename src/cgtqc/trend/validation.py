"""Method validation (ICH Q2(R2)): accuracy, precision by variance components, linearity, LOD/LOQ, LOD95.

* **Accuracy**: recovery = 100 × measured / nominal per sample; mean recovery per level and overall with its
  t confidence interval (95%).
* **Precision**: one-way random-effects ANOVA over runs (days, analysts...): repeatability σ²_r = MS_within,
  between-run σ²_run = max(0, (MS_between − MS_within)/n0) with n0 = (N − Σn_i²/N)/(k − 1) (unbalanced
  designs), intermediate precision σ²_IP = σ²_r + σ²_run. A nested design (``outer`` factor, e.g. analyst,
  with runs inside it) adds σ²_outer = max(0, (MS_outer − MS_run)/(b n)) from the expected mean squares of
  the balanced two-stage nested ANOVA; nested designs must be balanced.
* **Linearity and range**: least-squares slope and intercept with standard errors, r², residual SD, and the
  lack-of-fit F test (SS_lack = SSE − SS_pure error over the replicated levels) when levels are replicated.
* **LOD / LOQ** from the calibration line: 3.3σ/S and 10σ/S with σ the residual SD (or the intercept's SE).
* **LOD95** of a qualitative method: probit regression of the hit rate on log10 concentration (binomial GLM,
  statsmodels); the concentration detected with 95% probability and its Fieller 95% interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from cgtqc.errors import InputError

DESIGNS = ("accuracy", "precision", "linearity", "lod95")


def _t_ci(x: np.ndarray, confidence: float) -> tuple[float, float, float, float]:
    m, s = float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else float("nan")
    if x.size < 2:
        return m, s, float("nan"), float("nan")
    h = stats.t.ppf(1 - (1 - confidence) / 2, x.size - 1) * s / math.sqrt(x.size)
    return m, s, m - h, m + h


@dataclass
class Accuracy:
    n: int
    mean_recovery_pct: float
    sd_recovery_pct: float
    ci_low: float
    ci_high: float
    confidence: float
    levels: list[dict]

    def to_dict(self) -> dict:
        return {
            "design": "accuracy",
            "n": self.n,
            "mean_recovery_pct": self.mean_recovery_pct,
            "sd_recovery_pct": self.sd_recovery_pct,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence": self.confidence,
            "levels": self.levels,
        }


def accuracy(nominal: np.ndarray, measured: np.ndarray, confidence: float = 0.95) -> Accuracy:
    nom = np.asarray(nominal, dtype=np.float64)
    mea = np.asarray(measured, dtype=np.float64)
    if nom.size < 2:
        raise InputError(
            f"too few accuracy samples: {nom.size} (at least 2; ICH Q2 asks for 9 over 3 levels)"
        )
    if np.any(nom <= 0):
        raise InputError("nominal values must be > 0 for a recovery")
    rec = 100.0 * mea / nom
    m, s, lo, hi = _t_ci(rec, confidence)
    levels = []
    for level in np.unique(nom):
        r = rec[nom == level]
        lm, ls, llo, lhi = _t_ci(r, confidence)
        levels.append(
            {
                "nominal": float(level),
                "n": int(r.size),
                "mean_recovery_pct": lm,
                "sd_recovery_pct": None if r.size < 2 else ls,
                "ci_low": None if r.size < 2 else llo,
                "ci_high": None if r.size < 2 else lhi,
            }
        )
    return Accuracy(int(rec.size), m, s, lo, hi, confidence, levels)


@dataclass
class Precision:
    n: int
    grand_mean: float
    components: dict[str, float]  # variance components
    anova: list[dict]
    factors: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def repeatability_sd(self) -> float:
        return math.sqrt(self.components["repeatability"])

    @property
    def intermediate_sd(self) -> float:
        return math.sqrt(sum(self.components.values()))

    def to_dict(self) -> dict:
        gm = self.grand_mean
        cv = lambda s: 100 * s / abs(gm) if gm else None  # noqa: E731
        return {
            "design": "precision",
            "n": self.n,
            "grand_mean": gm,
            "factors": self.factors,
            "variance_components": self.components,
            "repeatability_sd": self.repeatability_sd,
            "repeatability_cv_pct": cv(self.repeatability_sd),
            "intermediate_precision_sd": self.intermediate_sd,
            "intermediate_precision_cv_pct": cv(self.intermediate_sd),
            "anova": self.anova,
            "warnings": self.warnings,
        }


def precision(
    values: np.ndarray, runs: list[str] | np.ndarray, outer: list[str] | np.ndarray | None = None
) -> Precision:
    """Variance components of replicates within runs (and runs within an outer factor when nested)."""
    y = np.asarray(values, dtype=np.float64)
    N = y.size
    if outer is not None:
        keys = np.char.add(np.char.add(np.asarray(outer).astype(str), "\x1f"), np.asarray(runs).astype(str))
    else:
        keys = np.asarray(runs).astype(str)
    _, g = np.unique(keys, return_inverse=True)
    k = int(g.max()) + 1
    ni = np.bincount(g)
    if k < 2:
        raise InputError("precision needs at least 2 runs (days, analysts...) to separate the components")
    if np.any(ni < 2):
        raise InputError("every run needs at least 2 replicates for repeatability")
    means = np.bincount(g, weights=y) / ni
    gm = float(y.mean())
    ss_w = float(((y - means[g]) ** 2).sum())
    df_w = N - k
    ms_w = ss_w / df_w
    warnings: list[str] = []
    if outer is None:
        ss_b = float((ni * (means - gm) ** 2).sum())
        ms_b = ss_b / (k - 1)
        n0 = (N - (ni**2).sum() / N) / (k - 1)
        s2_run = max(0.0, (ms_b - ms_w) / n0)
        if ms_b < ms_w:
            warnings.append(
                "between-run mean square below the within-run one: between-run component set to 0"
            )
        anova = [
            {
                "source": "between runs",
                "df": k - 1,
                "ss": ss_b,
                "ms": ms_b,
                "f": ms_b / ms_w,
                "p": float(stats.f.sf(ms_b / ms_w, k - 1, df_w)),
            },
            {"source": "repeatability (within runs)", "df": df_w, "ss": ss_w, "ms": ms_w},
        ]
        return Precision(N, gm, {"repeatability": ms_w, "between_run": s2_run}, anova, ["run"], warnings)
    o_names, og = np.unique(np.asarray(outer).astype(str), return_inverse=True)
    a = o_names.size
    if a < 2:
        raise InputError("a nested design needs at least 2 levels of the outer factor")
    run_outer = np.zeros(k, dtype=int)
    run_outer[g] = og
    b_per = np.bincount(run_outer, minlength=a)
    if len(set(ni.tolist())) != 1 or len(set(b_per.tolist())) != 1:
        raise InputError(
            "a nested design must be balanced (the same runs per outer level and replicates per run)"
        )
    n, b = int(ni[0]), int(b_per[0])
    o_means = np.bincount(og, weights=y) / np.bincount(og)
    ss_run = float((n * (means - o_means[run_outer]) ** 2).sum())
    df_run = a * (b - 1)
    ss_out = float((b * n * (o_means - gm) ** 2).sum())
    df_out = a - 1
    if df_run < 1:
        raise InputError("a nested design needs at least 2 runs within each outer level")
    ms_run, ms_out = ss_run / df_run, ss_out / df_out
    s2_run = max(0.0, (ms_run - ms_w) / n)
    s2_out = max(0.0, (ms_out - ms_run) / (b * n))
    for lo, hi, name in ((ms_w, ms_run, "run"), (ms_run, ms_out, "outer")):
        if hi < lo:
            warnings.append(f"{name} mean square below the one nested in it: {name} component set to 0")
    anova = [
        {
            "source": "outer factor",
            "df": df_out,
            "ss": ss_out,
            "ms": ms_out,
            "f": ms_out / ms_run,
            "p": float(stats.f.sf(ms_out / ms_run, df_out, df_run)),
        },
        {
            "source": "runs within outer",
            "df": df_run,
            "ss": ss_run,
            "ms": ms_run,
            "f": ms_run / ms_w,
            "p": float(stats.f.sf(ms_run / ms_w, df_run, df_w)),
        },
        {"source": "repeatability (within runs)", "df": df_w, "ss": ss_w, "ms": ms_w},
    ]
    return Precision(
        N,
        gm,
        {"repeatability": ms_w, "between_run": s2_run, "outer": s2_out},
        anova,
        ["outer", "run"],
        warnings,
    )


@dataclass
class Linearity:
    n: int
    levels: int
    slope: float
    intercept: float
    se_slope: float
    se_intercept: float
    r_squared: float
    residual_sd: float
    df: int
    range_low: float
    range_high: float
    lack_of_fit_f: float | None
    lack_of_fit_p: float | None
    lod: float
    loq: float
    sigma_basis: str
    residuals: list[float]

    def to_dict(self) -> dict:
        return {
            "design": "linearity",
            "n": self.n,
            "levels": self.levels,
            "slope": self.slope,
            "intercept": self.intercept,
            "se_slope": self.se_slope,
            "se_intercept": self.se_intercept,
            "r_squared": self.r_squared,
            "residual_sd": self.residual_sd,
            "df": self.df,
            "range": [self.range_low, self.range_high],
            "lack_of_fit": {"f": self.lack_of_fit_f, "p": self.lack_of_fit_p},
            "lod": self.lod,
            "loq": self.loq,
            "lod_loq_sigma": self.sigma_basis,
            "residuals": self.residuals,
        }


def linearity(x: np.ndarray, y: np.ndarray, sigma: str = "residual") -> Linearity:
    """Straight-line calibration with lack of fit; LOD = 3.3σ/S, LOQ = 10σ/S (σ: residual SD or SE of a)."""
    xx = np.asarray(x, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64)
    n = xx.size
    lv = np.unique(xx)
    if n < 3 or lv.size < 2:
        raise InputError(
            f"too few calibration points: {n} at {lv.size} level(s) (need 3 at 2+; ICH Q2: 5 levels)"
        )
    xm, ym = xx.mean(), yy.mean()
    sxx = float(((xx - xm) ** 2).sum())
    slope = float(((xx - xm) * (yy - ym)).sum() / sxx)
    intercept = float(ym - slope * xm)
    resid = yy - (intercept + slope * xx)
    sse = float(resid @ resid)
    df = n - 2
    s = math.sqrt(sse / df) if df > 0 else float("nan")
    sst = float(((yy - ym) ** 2).sum())
    r2 = 1 - sse / sst if sst > 0 else float("nan")
    se_b = s / math.sqrt(sxx)
    se_a = s * math.sqrt(1 / n + xm**2 / sxx)
    f = p = None
    _, gi = np.unique(xx, return_inverse=True)
    cnt = np.bincount(gi)
    c = lv.size
    if c > 2 and n > c:
        lm = np.bincount(gi, weights=yy) / cnt
        ss_pe = float(((yy - lm[gi]) ** 2).sum())
        ss_lof = sse - ss_pe
        if ss_pe > 0:
            f = (ss_lof / (c - 2)) / (ss_pe / (n - c))
            p = float(stats.f.sf(f, c - 2, n - c))
    if slope == 0:
        raise InputError("calibration slope is 0: no LOD/LOQ")
    if sigma not in ("residual", "intercept"):
        raise InputError("LOD/LOQ sigma must be 'residual' or 'intercept'")
    sg = s if sigma == "residual" else se_a
    return Linearity(
        n,
        int(c),
        slope,
        intercept,
        se_b,
        se_a,
        r2,
        s,
        df,
        float(xx.min()),
        float(xx.max()),
        f,
        p,
        3.3 * sg / abs(slope),
        10 * sg / abs(slope),
        sigma,
        resid.tolist(),
    )


@dataclass
class Lod95:
    lod95: float | None
    ci_low: float | None
    ci_high: float | None
    intercept: float
    slope: float
    cov: list[list[float]]
    levels: list[dict]
    probability: float
    confidence: float
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "design": "lod95",
            "probability": self.probability,
            "lod95": self.lod95,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence": self.confidence,
            "probit": {
                "intercept": self.intercept,
                "slope": self.slope,
                "covariance": self.cov,
                "scale": "log10 concentration",
            },
            "levels": self.levels,
            "warnings": self.warnings,
        }


def fieller(
    a: float, b: float, va: float, vb: float, cab: float, z: float
) -> tuple[float | None, float | None]:
    """Fieller interval of a/b: the θ with (a − θb)² ≤ z²(va − 2θ cab + θ² vb); None when unbounded."""
    A = b * b - z * z * vb
    B = -2 * (a * b - z * z * cab)
    C = a * a - z * z * va
    disc = B * B - 4 * A * C
    if A <= 0 or disc < 0:
        return None, None
    r = math.sqrt(disc)
    return (-B - r) / (2 * A), (-B + r) / (2 * A)


def lod95(
    concentration: np.ndarray,
    hits: np.ndarray,
    trials: np.ndarray,
    probability: float = 0.95,
    confidence: float = 0.95,
) -> Lod95:
    """Probit fit of hits/trials on log10 concentration; LOD at ``probability`` with its Fieller interval."""
    import statsmodels.api as sm

    conc = np.asarray(concentration, dtype=np.float64)
    k = np.asarray(hits, dtype=np.float64)
    m = np.asarray(trials, dtype=np.float64)
    if np.any(conc <= 0):
        raise InputError("LOD95 concentrations must be > 0 (the fit is on log10 concentration)")
    if np.any(k < 0) or np.any(k > m) or np.any(m < 1):
        raise InputError("hits must lie between 0 and the number of replicates")
    lv, gi = np.unique(conc, return_inverse=True)
    kk, mm = np.bincount(gi, weights=k), np.bincount(gi, weights=m)
    if lv.size < 3:
        raise InputError(f"too few concentration levels for a probit fit: {lv.size} (at least 3)")
    rate = kk / mm
    if not np.any((rate > 0) & (rate < 1)):
        raise InputError("every level is all-hit or all-miss: the probit slope cannot be estimated")
    X = sm.add_constant(np.log10(lv))
    fam = sm.families.Binomial(link=sm.families.links.Probit())
    fit = sm.GLM(np.column_stack([kk, mm - kk]), X, family=fam).fit()
    b0, b1 = (float(v) for v in fit.params)
    V = np.asarray(fit.cov_params(), dtype=np.float64)
    warnings: list[str] = []
    if b1 <= 0:
        raise InputError("the hit rate does not rise with concentration: no LOD95")
    zp = float(stats.norm.ppf(probability))
    theta = (zp - b0) / b1
    zc = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    lo, hi = fieller(zp - b0, b1, V[0, 0], V[1, 1], -V[0, 1], zc)
    if lo is None:
        warnings.append("slope not significantly different from 0: the Fieller interval is unbounded")
    if theta > math.log10(lv.max()):
        warnings.append("LOD95 above the highest tested concentration (extrapolated)")
    levels = [
        {"concentration": float(c), "hits": int(h), "replicates": int(t), "hit_rate": float(h / t)}
        for c, h, t in zip(lv, kk, mm, strict=True)
    ]
    return Lod95(
        10**theta,
        None if lo is None else 10**lo,
        None if hi is None else 10**hi,
        b0,
        b1,
        V.tolist(),
        levels,
        probability,
        confidence,
        warnings,
    )
