"""Least-squares fitting of 4PL and 5PL log-logistic curves, alone or several sharing parameters.

The curve is drc's log-logistic, on the original dose scale::

    y = c + (d - c) / (1 + (x / e)^b)^g          (4PL: g = 1)

``b`` slope, ``c`` response at infinite dose, ``d`` response at zero dose, ``e`` the inflection dose (the ED50
for 4PL), ``g`` the 5PL asymmetry. USP <1032> writes the same curve as D + (A - D)/(1 + (x/C)^B).
Fitting is ordinary (optionally weighted) least squares on the response, as drc's ``LL.4``/``LL.5`` do, so
estimates and standard errors (sigma^2 (J'J)^-1, sigma^2 = RSS/(n - p)) agree with drc. Internally ``e``
and ``g`` are fitted on the log scale; standard errors are transformed back exactly.

Several curves are fitted jointly through a linear map from the free parameters to each observation's
(b, c, d, log e, log g): separate curves, the constrained parallel model (shared b, c, d[, g]; one log e per
sample written as log e_ref - log rho, so rho is the relative potency), or any parameter held fixed
(for profile intervals).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

NATURAL = ("b", "c", "d", "loge", "logg")
MODELS = ("4pl", "5pl")


class FitFailure(Exception):
    """The optimiser did not reach a usable minimum (reported as an invalid fit, never as a number)."""


def curve(x: np.ndarray, b: float, c: float, d: float, e: float, g: float = 1.0) -> np.ndarray:
    """Response of the log-logistic curve at doses ``x`` (dose 0 is the zero-dose limit)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        u = np.where(
            x > 0, np.exp(b * (np.log(np.where(x > 0, x, 1.0)) - math.log(e))), 0.0 if b > 0 else np.inf
        )
        return c + (d - c) / np.power(1.0 + u, g)


def inverse(y: float, b: float, c: float, d: float, e: float, g: float = 1.0) -> float:
    """Dose giving response ``y``; NaN when ``y`` is not strictly between the asymptotes."""
    t = (y - c) / (d - c)
    if not 0.0 < t < 1.0:
        return float("nan")
    return e * (t ** (-1.0 / g) - 1.0) ** (1.0 / b)


def ed_dose(p: float, b: float, e: float, g: float = 1.0) -> float:
    """ED_p: dose giving p % of the change from the zero-dose to the infinite-dose asymptote."""
    q = 1.0 - p / 100.0  # fraction of the way left to go, as (1+u)^-g for b > 0
    if b < 0:
        q = p / 100.0
    return e * (q ** (-1.0 / g) - 1.0) ** (1.0 / b)


@dataclass
class Design:
    """Linear map from free parameters theta to per-observation natural parameters."""

    names: list[str]
    maps: dict[str, np.ndarray]  # natural name -> (n_obs, n_theta)
    offsets: dict[str, np.ndarray]  # natural name -> (n_obs,)

    def natural(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        return {k: self.maps[k] @ theta + self.offsets[k] for k in NATURAL}


def build_design(
    groups: list[str],
    model: str,
    parallel: bool,
    reference: str | None = None,
    fixed: dict[str, float] | None = None,
) -> Design:
    """Design for separate curves per group or the parallel model relative to ``reference``.

    Parameter names: separate ``b[g]``, ``c[g]``, ``d[g]``, ``loge[g]``, ``logg[g]``; parallel ``b``, ``c``,
    ``d``, ``logg``, ``loge[ref]``, ``logrho[test]``. ``fixed`` holds values of names removed from theta.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}")
    levels = list(dict.fromkeys(groups))
    gidx = np.array([levels.index(g) for g in groups])
    n = len(groups)
    five = model == "5pl"
    cols: list[tuple[str, dict[str, np.ndarray]]] = []  # name -> contribution per natural param

    def ind(mask: np.ndarray, sign: float = 1.0) -> np.ndarray:
        return sign * mask.astype(float)

    ones = np.ones(n, dtype=bool)
    if not parallel:
        for k, lev in enumerate(levels):
            m = gidx == k
            for nat in ("b", "c", "d", "loge") + (("logg",) if five else ()):
                cols.append((f"{nat}[{lev}]", {nat: ind(m)}))
    else:
        ref = reference if reference is not None else levels[0]
        if ref not in levels:
            raise ValueError(f"reference {ref!r} is not among the groups {levels}")
        for nat in ("b", "c", "d") + (("logg",) if five else ()):
            cols.append((nat, {nat: ind(ones)}))
        cols.append((f"loge[{ref}]", {"loge": ind(ones)}))
        for k, lev in enumerate(levels):
            if lev != ref:
                cols.append((f"logrho[{lev}]", {"loge": ind(gidx == k, -1.0)}))
    fixed = dict(fixed or {})
    names = [c[0] for c in cols if c[0] not in fixed]
    maps = {k: np.zeros((n, len(names))) for k in NATURAL}
    offsets = {k: np.zeros(n) for k in NATURAL}
    j = 0
    for name, contrib in cols:
        for nat, vec in contrib.items():
            if name in fixed:
                offsets[nat] += vec * fixed[name]
            else:
                maps[nat][:, j] += vec
        if name not in fixed:
            j += 1
    return Design(names, maps, offsets)


def _residuals_and_jac(
    theta: np.ndarray, x: np.ndarray, y: np.ndarray, w: np.ndarray, design: Design
) -> tuple[np.ndarray, np.ndarray]:
    p = design.natural(theta)
    b, c, d, loge, logg = p["b"], p["c"], p["d"], p["loge"], p["logg"]
    g = np.exp(logg)
    pos = x > 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        lx = np.log(np.where(pos, x, 1.0))
        z = np.where(pos, b * (lx - loge), np.where(b > 0, -np.inf, np.inf))
        z = np.clip(z, -700, 700)
        u = np.exp(z)
        s = np.power(1.0 + u, -g)  # in (0, 1]
        f = c + (d - c) * s
        common = (d - c) * (-g) * s / (1.0 + u) * u  # d f / d z
        dz_db = np.where(pos, lx - loge, 0.0)
        jb = np.where(pos, common * dz_db, 0.0)
        jloge = np.where(pos, common * (-b), 0.0)
        jlogg = (d - c) * s * (-np.log1p(u)) * g
    natural_j = {"b": jb, "c": 1.0 - s, "d": s, "loge": jloge, "logg": jlogg}
    jac = sum(natural_j[k][:, None] * design.maps[k] for k in NATURAL)
    sw = np.sqrt(w)
    return (f - y) * sw, jac * sw[:, None]


@dataclass
class JointFit:
    """A least-squares fit: free-parameter estimates, covariance, residual variance and fit quality."""

    design: Design
    theta: np.ndarray
    cov: np.ndarray
    rss: float
    n: int
    df: int
    converged: bool
    message: str
    r_squared: float
    fixed: dict[str, float] = field(default_factory=dict)

    @property
    def sigma(self) -> float:
        return math.sqrt(self.rss / self.df) if self.df > 0 else float("nan")

    def value(self, name: str) -> float:
        if name in self.fixed:
            return self.fixed[name]
        return float(self.theta[self.design.names.index(name)])

    def index(self, name: str) -> int:
        return self.design.names.index(name)

    def t_quantile(self, level: float = 0.95) -> float:
        return float(stats.t.ppf(0.5 + level / 2.0, self.df)) if self.df > 0 else float("inf")


def _start(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """Start values (b, c, d, loge) of one curve from its data."""
    pos = x > 0
    lo, hi = float(np.min(y)), float(np.max(y))
    span = hi - lo if hi > lo else 1.0
    xs = np.unique(x[pos])
    if len(xs) == 0:
        return 1.0, lo, hi, 0.0
    means = np.array([np.mean(y[x == v]) for v in xs])
    lxs = np.log(xs)
    slope = np.polyfit(lxs, means, 1)[0] if len(xs) > 1 else -1.0
    decreasing = slope < 0
    # drc's orientation: c lower, d upper asymptote; the sign of b gives the direction (b > 0 decreasing)
    c, d = lo - 0.05 * span, hi + 0.05 * span
    t = np.clip((means - c) / (d - c), 1e-3, 1 - 1e-3)
    logit = np.log(1.0 / t - 1.0)  # = b (log x - log e)
    if len(xs) > 1 and np.ptp(logit) > 0:
        bb, aa = np.polyfit(lxs, logit, 1)
        if bb == 0 or not np.isfinite(bb):
            bb = 1.0 if decreasing else -1.0
        loge = -aa / bb
    else:
        bb, loge = (1.0 if decreasing else -1.0), float(np.median(lxs))
    loge = float(np.clip(loge, lxs.min() - 2.0, lxs.max() + 2.0))
    return float(bb), float(c), float(d), loge


def initial_theta(
    design: Design, x: np.ndarray, y: np.ndarray, groups: list[str], fixed: dict[str, float] | None = None
) -> np.ndarray:
    """Start values for every free parameter, from per-group starts (shared ones averaged)."""
    levels = list(dict.fromkeys(groups))
    garr = np.array(groups, dtype=object)
    starts = {lev: _start(x[garr == lev], y[garr == lev]) for lev in levels}
    allst = _start(x, y)
    theta = np.zeros(len(design.names))
    ref_loge = None
    for i, name in enumerate(design.names):
        base, _, lev = name.partition("[")
        lev = lev.rstrip("]")
        st = starts.get(lev, allst) if lev else None
        if base == "logg":
            theta[i] = 0.0
        elif base == "logrho":
            theta[i] = (ref_loge if ref_loge is not None else allst[3]) - starts[lev][3]
        elif base == "loge":
            theta[i] = (st or allst)[3]
            ref_loge = theta[i]
        else:
            k = ("b", "c", "d").index(base)
            theta[i] = st[k] if st else float(np.mean([s[k] for s in starts.values()]))
    return theta


def fit_joint(
    x: np.ndarray,
    y: np.ndarray,
    groups: list[str],
    design: Design,
    *,
    weights: np.ndarray | None = None,
    theta0: np.ndarray | None = None,
    fixed: dict[str, float] | None = None,
) -> JointFit:
    """Least-squares fit of ``design``; raises :class:`FitFailure` when no usable minimum is found."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    p = len(design.names)
    if len(y) <= p:
        raise FitFailure(f"{len(y)} observations cannot fit {p} parameters")
    start = initial_theta(design, x, y, groups, fixed) if theta0 is None else np.asarray(theta0, dtype=float)
    best = None
    tries = [start]
    if theta0 is None:  # alternative starts: flatter and steeper slopes
        for factor in (0.5, 2.0):
            alt = start.copy()
            for i, n in enumerate(design.names):
                if n == "b" or n.startswith("b["):
                    alt[i] *= factor
            tries.append(alt)
    for t0 in tries:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                res = optimize.least_squares(
                    lambda th: _residuals_and_jac(th, x, y, w, design)[0],
                    t0,
                    jac=lambda th: _residuals_and_jac(th, x, y, w, design)[1],
                    method="lm",
                    xtol=1e-12,
                    ftol=1e-12,
                    gtol=1e-12,
                    max_nfev=4000,
                )
            except (ValueError, np.linalg.LinAlgError):
                continue
        if res.status > 0 and np.all(np.isfinite(res.x)) and (best is None or res.cost < best.cost - 1e-12):
            best = res
    if best is None:
        raise FitFailure("the optimiser did not converge")
    r, jac = _residuals_and_jac(best.x, x, y, w, design)
    rss = float(r @ r)
    df = len(y) - p
    jtj = jac.T @ jac
    try:
        cond = np.linalg.cond(jtj)
        if not np.isfinite(cond) or cond > 1e14:
            raise FitFailure("parameters are not identifiable from these data (singular information matrix)")
        cov = np.linalg.inv(jtj) * (rss / df if df > 0 else float("nan"))
    except np.linalg.LinAlgError as exc:
        raise FitFailure("singular information matrix") from exc
    ybar = np.average(y, weights=w)
    tss = float(np.sum(w * (y - ybar) ** 2))
    r2 = 1.0 - rss / tss if tss > 0 else float("nan")
    return JointFit(design, best.x, cov, rss, len(y), df, True, best.message, r2, dict(fixed or {}))


def delta_se(fit: JointFit, func: Callable[[np.ndarray], float], eps: float = 1e-6) -> tuple[float, float]:
    """Value and delta-method standard error of ``func(theta)`` (numerical gradient)."""
    th = fit.theta
    v = float(func(th))
    grad = np.zeros_like(th)
    for i in range(len(th)):
        h = eps * max(1.0, abs(th[i]))
        tp, tm = th.copy(), th.copy()
        tp[i] += h
        tm[i] -= h
        grad[i] = (func(tp) - func(tm)) / (2 * h)
    var = float(grad @ fit.cov @ grad)
    return v, math.sqrt(var) if var >= 0 else float("nan")


def dose_weights(x: np.ndarray, y: np.ndarray, groups: list[str], power: float) -> np.ndarray | None:
    """Weights 1/|mean response|^(2 power) per sample and dose (variance proportional to mean^(2 power)),
    scaled to average 1; None for power 0 (ordinary least squares). Power 1 suits a constant CV."""
    if power == 0:
        return None
    keys = list(zip(groups, x, strict=True))
    means: dict[tuple[str, float], float] = {}
    for k in set(keys):
        means[k] = float(np.mean([yy for kk, yy in zip(keys, y, strict=True) if kk == k]))
    m = np.array([abs(means[k]) for k in keys])
    if np.any(m <= 0):
        raise ValueError("response weighting needs non-zero mean responses at every dose")
    w = m ** (-2.0 * power)
    return w / w.mean()
