"""Control charts: individuals / moving range, X̄–R, X̄–S, EWMA and CUSUM, with limits from a stated baseline.

* **I–MR**: σ = MR̄ / d2(2) = MR̄ / 1.128; I limits x̄ ± 3σ (= x̄ ± 2.66 MR̄); MR chart UCL = D4(2)·MR̄
  = 3.267 MR̄, LCL 0.
* **X̄–R**: σ = R̄ / d2(n); X̄ limits X̿ ± A2·R̄ with A2 = 3 / (d2 √n); R chart D3·R̄, D4·R̄ with
  D3 = max(0, 1 − 3 d3/d2), D4 = 1 + 3 d3/d2.
* **X̄–S**: σ = S̄ / c4(n); X̄ limits X̿ ± A3·S̄ with A3 = 3 / (c4 √n); S chart B3·S̄, B4·S̄ with
  B3 = max(0, 1 − 3 √(1 − c4²)/c4), B4 = 1 + 3 √(1 − c4²)/c4. Unequal subgroups: σ is the mean of
  R_i/d2(n_i) (or S_i/c4(n_i)) and limits are drawn per subgroup.
* **EWMA** (Minitab defaults λ = 0.2, L = 3): z_i = λ x_i + (1 − λ) z_{i−1} from the centre,
  limits centre ± L σ √(λ/(2 − λ) (1 − (1 − λ)^{2i})).
* **CUSUM** (tabular, Minitab defaults k = 0.5 σ, h = 4 σ): C⁺_i = max(0, C⁺_{i−1} + x_i − μ0 − kσ),
  C⁻ likewise; a signal when either exceeds hσ.

The baseline (the points the limits are computed from) is all points, the first N, or a mask (a frozen set of
lots); the rules then judge every point against those limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from cgtqc.errors import InputError
from cgtqc.trend.rules import Violation, apply_rules

CHART_KINDS = ("imr", "xbar-r", "xbar-s", "ewma", "cusum")

# d3(n), standard deviation of the range of n standard normal values (ASTM E2587 / Montgomery table VI)
_D3_TABLE = {
    2: 0.8525,
    3: 0.8884,
    4: 0.8798,
    5: 0.8641,
    6: 0.8480,
    7: 0.8332,
    8: 0.8198,
    9: 0.8078,
    10: 0.7971,
    11: 0.7873,
    12: 0.7785,
    13: 0.7704,
    14: 0.7630,
    15: 0.7562,
    16: 0.7499,
    17: 0.7441,
    18: 0.7386,
    19: 0.7335,
    20: 0.7287,
    21: 0.7242,
    22: 0.7199,
    23: 0.7159,
    24: 0.7121,
    25: 0.7084,
}
MAX_SUBGROUP_R = 25


@lru_cache(maxsize=64)
def d2(n: int) -> float:
    """Expected range of n standard normal values: ∫ 1 − Φ(x)ⁿ − (1 − Φ(x))ⁿ dx (numerical integration)."""
    if n < 2:
        raise InputError("a range needs subgroups of at least 2 values")
    from scipy import integrate, special  # here, not at import: lot commands read charts, rarely d2

    f = lambda x: 1.0 - special.ndtr(x) ** n - special.ndtr(-x) ** n  # noqa: E731
    return float(integrate.quad(f, -np.inf, np.inf, epsabs=1e-12, epsrel=1e-12)[0])


def d3(n: int) -> float:
    """Standard deviation of the range of n standard normal values (tabulated, n = 2..25)."""
    if n not in _D3_TABLE:
        raise InputError(f"R charts need subgroups of 2-{MAX_SUBGROUP_R} values (got {n}); use xbar-s")
    return _D3_TABLE[n]


def c4(n: int | np.ndarray) -> float | np.ndarray:
    """Bias of the sample standard deviation: √(2/(n−1)) Γ(n/2) / Γ((n−1)/2)."""
    from scipy import special

    n = np.asarray(n, dtype=np.float64)
    out = np.sqrt(2.0 / (n - 1)) * np.exp(special.gammaln(n / 2) - special.gammaln((n - 1) / 2))
    return float(out) if out.ndim == 0 else out


def constants(n: int) -> dict[str, float]:
    """The control-chart constants of subgroup size n (as in NIST/SEMATECH e-Handbook 6.3.2 tables)."""
    out: dict[str, float] = {"n": n, "c4": c4(n)}
    cc = out["c4"]
    out["A3"] = 3 / (cc * math.sqrt(n))
    out["B3"] = max(0.0, 1 - 3 * math.sqrt(1 - cc**2) / cc)
    out["B4"] = 1 + 3 * math.sqrt(1 - cc**2) / cc
    if 2 <= n <= MAX_SUBGROUP_R:
        dd2, dd3 = d2(n), d3(n)
        out.update(
            d2=dd2, d3=dd3, A2=3 / (dd2 * math.sqrt(n)), D3=max(0.0, 1 - 3 * dd3 / dd2), D4=1 + 3 * dd3 / dd2
        )
    return out


@dataclass
class Limits:
    """Centre line and limits of one panel of a chart (scalars, or one value per point)."""

    name: str
    points: np.ndarray
    center: float | np.ndarray
    ucl: float | np.ndarray
    lcl: float | np.ndarray

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "center": _num(self.center),
            "ucl": _num(self.ucl),
            "lcl": _num(self.lcl),
            "points": self.points.tolist(),
        }


@dataclass
class ControlChart:
    """A chart with its limits, the baseline they came from, and every rule violation."""

    kind: str
    main: Limits
    sigma: float
    n_points: int
    n_baseline: int
    baseline: str
    rules: str
    violations: list[Violation]
    dispersion: Limits | None = None
    labels: list[str] = field(default_factory=list)
    rows: list[list[int]] = field(default_factory=list)  # file rows (0-based) of each point
    parameters: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # e.g. CUSUM's lower statistic

    def file_index(self, point: int) -> int:
        """The 0-based file row of a point (the first row of a subgroup)."""
        return self.rows[point][0] if self.rows else point

    def to_dict(self) -> dict:
        d: dict = {
            "chart": self.kind,
            "n_points": self.n_points,
            "center": _num(self.main.center),
            "ucl": _num(self.main.ucl),
            "lcl": _num(self.main.lcl),
            "sigma": self.sigma,
            "baseline": self.baseline,
            "n_baseline": self.n_baseline,
            "rules": self.rules,
            "parameters": self.parameters,
        }
        if self.dispersion is not None:
            p = {"MR": "mr", "R": "r", "S": "s"}[self.dispersion.name]
            d[f"{p}_center"] = _num(self.dispersion.center)
            d[f"{p}_ucl"] = _num(self.dispersion.ucl)
            d[f"{p}_lcl"] = _num(self.dispersion.lcl)
        d["violations"] = [
            {
                "index": self.file_index(v.index),
                "point": v.index,
                "rule": v.rule,
                **({"label": self.labels[v.index]} if self.labels else {}),
                "description": v.description,
            }
            for v in self.violations
        ]
        d["points"] = [
            {
                "point": i,
                "index": self.file_index(i),
                **({"label": self.labels[i]} if self.labels else {}),
                "value": float(self.main.points[i]),
            }
            for i in range(self.n_points)
        ]
        if self.dispersion is not None:
            d["dispersion_points"] = [
                None if not np.isfinite(v) else float(v) for v in self.dispersion.points
            ]
        d.update(self.extra)
        return d


def _num(v: float | np.ndarray) -> float | list[float]:
    if np.ndim(v) == 0:
        return float(v)
    arr = np.asarray(v, dtype=np.float64)
    if np.all(arr == arr[0]):
        return float(arr[0])
    return arr.tolist()


def baseline_mask(n: int, baseline: int | np.ndarray | None) -> tuple[np.ndarray, str]:
    """The points limits are computed from: all (None), the first N (int) or a boolean mask."""
    if baseline is None:
        return np.ones(n, dtype=bool), "all points"
    if isinstance(baseline, int | np.integer):
        if not 0 < baseline <= n:
            raise InputError(f"baseline of {baseline} points, but the chart has {n}")
        m = np.zeros(n, dtype=bool)
        m[:baseline] = True
        return m, f"first {int(baseline)} points"
    m = np.asarray(baseline, dtype=bool)
    if m.shape != (n,) or not m.any():
        raise InputError("the baseline selects no point of the chart")
    return m, f"{int(m.sum())} frozen points"


def _min_points(n: int, need: int, what: str) -> None:
    if n < need:
        raise InputError(f"too few points for {what}: {n} (at least {need})")


def imr_chart(
    values: np.ndarray,
    baseline: int | np.ndarray | None = None,
    rules: str = "nelson",
    labels: list[str] | None = None,
    rows: list[list[int]] | None = None,
    sigma_multiplier: float = 3.0,
) -> ControlChart:
    """Individuals and moving-range chart (moving range of span 2)."""
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    _min_points(n, 3, "an individuals chart")
    mask, text = baseline_mask(n, baseline)
    mr = np.full(n, np.nan)
    mr[1:] = np.abs(np.diff(x))
    use = mask.copy()
    use[0] = False
    use[1:] &= mask[:-1]  # a moving range counts when both of its points are in the baseline
    if use.sum() < 1:
        raise InputError("the baseline needs at least 2 consecutive points for a moving range")
    mr_bar = float(mr[use].mean())
    sigma = mr_bar / d2(2)
    center = float(x[mask].mean())
    k = sigma_multiplier
    main = Limits("I", x, center, center + k * sigma, center - k * sigma)
    disp = Limits(
        "MR", mr, mr_bar, mr_bar * (1 + k * d3(2) / d2(2)), max(0.0, mr_bar * (1 - k * d3(2) / d2(2)))
    )
    viol = apply_rules(x, center, sigma, rules, k={1: int(k)} if rules == "nelson" and k != 3 else None)
    return ControlChart(
        "imr",
        main,
        sigma,
        n,
        int(mask.sum()),
        text,
        rules,
        viol,
        disp,
        labels or [],
        rows or [],
        {"sigma_multiplier": k, "sigma_estimate": "MRbar/d2(2)", "mr_span": 2},
    )


@dataclass(frozen=True)
class Subgroups:
    """Values grouped into subgroups in order of first appearance (or of the order column)."""

    means: np.ndarray
    ranges: np.ndarray
    sds: np.ndarray
    sizes: np.ndarray
    labels: list[str]
    rows: list[list[int]]
    grand_mean_all: float


def make_subgroups(values: np.ndarray, keys: list[str], order: np.ndarray | None = None) -> Subgroups:
    """Group ``values`` by ``keys``; ordered by ``order`` (its first value) or first appearance."""
    x = np.asarray(values, dtype=np.float64)
    uniq, first, inv = np.unique(
        np.asarray(keys, dtype=object).astype(str), return_index=True, return_inverse=True
    )
    rank_key = first if order is None else np.array([order[inv == g].min() for g in range(uniq.size)])
    ordering = np.argsort(rank_key, kind="stable")
    remap = np.empty_like(ordering)
    remap[ordering] = np.arange(ordering.size)
    g = remap[inv]
    k = uniq.size
    sizes = np.bincount(g, minlength=k)
    sums = np.bincount(g, weights=x, minlength=k)
    means = sums / sizes
    sq = np.bincount(g, weights=(x - means[g]) ** 2, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        sds = np.sqrt(sq / (sizes - 1))
    mx = np.full(k, -np.inf)
    mn = np.full(k, np.inf)
    np.maximum.at(mx, g, x)
    np.minimum.at(mn, g, x)
    rows: list[list[int]] = [[] for _ in range(k)]
    for i, gi in enumerate(g.tolist()):
        rows[gi].append(i)
    return Subgroups(means, mx - mn, sds, sizes, [str(uniq[j]) for j in ordering], rows, float(x.mean()))


def xbar_chart(
    sub: Subgroups,
    dispersion: str = "r",
    baseline: int | np.ndarray | None = None,
    rules: str = "nelson",
) -> ControlChart:
    """X̄–R (``dispersion='r'``) or X̄–S (``'s'``) chart of subgroups of at least 2 values."""
    k = sub.means.size
    _min_points(k, 2, "an X-bar chart (subgroups)")
    if sub.sizes.min() < 2:
        bad = sub.labels[int(np.argmin(sub.sizes))]
        raise InputError(f"subgroup {bad!r} has one value; X-bar charts need at least 2 per subgroup")
    mask, text = baseline_mask(k, baseline)
    n = sub.sizes
    equal = bool(np.all(n == n[0]))
    if dispersion == "r":
        if n.max() > MAX_SUBGROUP_R:
            raise InputError(f"R charts need subgroups of at most {MAX_SUBGROUP_R} values; use xbar-s")
        d2n = np.array([d2(int(m)) for m in n])
        d3n = np.array([d3(int(m)) for m in n])
        stat = sub.ranges
        sigma = float(stat[mask].mean() / d2n[0]) if equal else float((stat / d2n)[mask].mean())
        c_line, spread = d2n * sigma, d3n * sigma
        name, label = "R", "Rbar/d2(n)" if equal else "mean of R_i/d2(n_i)"
    elif dispersion == "s":
        c4n = c4(n)
        stat = sub.sds
        sigma = float(stat[mask].mean() / c4n[0]) if equal else float((stat / c4n)[mask].mean())
        c_line, spread = c4n * sigma, np.sqrt(1 - c4n**2) * sigma
        name, label = "S", "Sbar/c4(n)" if equal else "mean of S_i/c4(n_i)"
    else:
        raise InputError(f"unknown dispersion {dispersion!r} (r or s)")
    if equal:
        center = float(sub.means[mask].mean())
    else:
        center = float((sub.means * n)[mask].sum() / n[mask].sum())
    se = sigma / np.sqrt(n)
    main = Limits("Xbar", sub.means, center, center + 3 * se, center - 3 * se)
    disp = Limits(name, stat, c_line, c_line + 3 * spread, np.maximum(0.0, c_line - 3 * spread))
    viol = apply_rules(sub.means, center, se, rules)
    return ControlChart(
        f"xbar-{dispersion}",
        main,
        sigma,
        k,
        int(mask.sum()),
        text,
        rules,
        viol,
        disp,
        sub.labels,
        sub.rows,
        {"sigma_estimate": label, "subgroup_sizes": sorted(set(n.tolist()))},
    )


def ewma_chart(
    values: np.ndarray,
    lam: float = 0.2,
    L: float = 3.0,
    baseline: int | np.ndarray | None = None,
    sigma: float | None = None,
    labels: list[str] | None = None,
    rows: list[list[int]] | None = None,
) -> ControlChart:
    """EWMA chart of individual values; σ from the baseline's moving ranges unless given."""
    from scipy.signal import lfilter

    if not 0 < lam <= 1:
        raise InputError("EWMA weight lambda must be in (0, 1]")
    x = np.asarray(values, dtype=np.float64)
    base = imr_chart(x, baseline)
    s = base.sigma if sigma is None else float(sigma)
    mu = float(base.main.center)
    z = lfilter([lam], [1.0, -(1.0 - lam)], x, zi=[(1.0 - lam) * mu])[0]
    i = np.arange(1, x.size + 1)
    width = L * s * np.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * i)))
    ucl, lcl = mu + width, mu - width
    out = np.flatnonzero((z > ucl) | (z < lcl))
    viol = [Violation(int(j), "ewma", "ewma", f"EWMA beyond {L:g}-sigma limit") for j in out]
    return ControlChart(
        "ewma",
        Limits("EWMA", z, mu, ucl, lcl),
        s,
        x.size,
        base.n_baseline,
        base.baseline,
        "ewma",
        viol,
        None,
        labels or [],
        rows or [],
        {"lambda": lam, "L": L},
    )


def cusum_chart(
    values: np.ndarray,
    k: float = 0.5,
    h: float = 4.0,
    target: float | None = None,
    baseline: int | np.ndarray | None = None,
    sigma: float | None = None,
    labels: list[str] | None = None,
    rows: list[list[int]] | None = None,
) -> ControlChart:
    """Tabular CUSUM (k and h in units of σ). C⁺ = S − min(0, min S), the Lindley recursion in closed form."""
    x = np.asarray(values, dtype=np.float64)
    base = imr_chart(x, baseline)
    s = base.sigma if sigma is None else float(sigma)
    mu = float(base.main.center) if target is None else float(target)
    up = np.cumsum(x - mu - k * s)
    lo = np.cumsum(mu - k * s - x)
    c_plus = up - np.minimum(0.0, np.minimum.accumulate(up))
    c_minus = lo - np.minimum(0.0, np.minimum.accumulate(lo))
    hs = h * s
    viol = [
        Violation(int(j), "cusum_upper", "cusum", f"upper CUSUM above h = {h:g} sigma")
        for j in np.flatnonzero(c_plus > hs)
    ]
    viol += [
        Violation(int(j), "cusum_lower", "cusum", f"lower CUSUM above h = {h:g} sigma")
        for j in np.flatnonzero(c_minus > hs)
    ]
    viol.sort(key=lambda v: (v.index, str(v.rule)))
    return ControlChart(
        "cusum",
        Limits("CUSUM+", c_plus, 0.0, hs, 0.0),
        s,
        x.size,
        base.n_baseline,
        base.baseline,
        "cusum",
        viol,
        None,
        labels or [],
        rows or [],
        {"k": k, "h": h, "target": mu},
        {"cusum_lower": c_minus.tolist()},
    )
