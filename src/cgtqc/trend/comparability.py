"""Comparability of two processes or sites: two one-sided tests (TOST) per CQA with pre-set margins.

* ``absolute`` margins: the difference of means (test − reference) must lie within (−M, +M) (or a given
  (low, high) pair); ``ratio`` margins: the ratio of geometric means within (1/M, M) (or (low, high)),
  tested on the log scale.
* Welch's t (unequal variances, Satterthwaite degrees of freedom) by default; ``welch=False`` pools the
  variances. The 90% confidence interval (1 − 2α with α = 0.05) inside the margins is the same decision as
  both one-sided p-values below α.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from cgtqc.errors import InputError

MARGIN_KINDS = ("absolute", "ratio")


@dataclass
class Equivalence:
    cqa: str
    reference: str
    test: str
    n_reference: int
    n_test: int
    mean_reference: float
    mean_test: float
    sd_reference: float
    sd_test: float
    kind: str
    estimate: float  # difference, or ratio of geometric means
    ci_low: float
    ci_high: float
    margin_low: float
    margin_high: float
    p_lower: float
    p_upper: float
    df: float
    welch: bool
    confidence: float
    notes: list[str] = field(default_factory=list)

    @property
    def p_value(self) -> float:
        return max(self.p_lower, self.p_upper)

    @property
    def equivalent(self) -> bool:
        return self.margin_low < self.ci_low and self.ci_high < self.margin_high

    def to_dict(self) -> dict:
        return {
            "cqa": self.cqa,
            "reference": self.reference,
            "test": self.test,
            "n_reference": self.n_reference,
            "n_test": self.n_test,
            "mean_reference": self.mean_reference,
            "mean_test": self.mean_test,
            "sd_reference": self.sd_reference,
            "sd_test": self.sd_test,
            "margin_kind": self.kind,
            "estimate": self.estimate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence": self.confidence,
            "margin_low": self.margin_low,
            "margin_high": self.margin_high,
            "p_lower": self.p_lower,
            "p_upper": self.p_upper,
            "p_value": self.p_value,
            "df": self.df,
            "test_type": "Welch" if self.welch else "pooled",
            "equivalent": self.equivalent,
            "notes": self.notes,
        }


def margins(margin: float | tuple[float, float], kind: str) -> tuple[float, float]:
    """(low, high) margins: ±M for absolute, (1/M, M) for a ratio; a pair is taken as given."""
    if kind not in MARGIN_KINDS:
        raise InputError(f"unknown margin kind {kind!r} (absolute or ratio)")
    if isinstance(margin, tuple | list):
        lo, hi = float(margin[0]), float(margin[1])
    elif kind == "absolute":
        if margin <= 0:
            raise InputError("an absolute margin must be > 0")
        lo, hi = -float(margin), float(margin)
    else:
        if margin <= 1:
            raise InputError("a ratio margin must be > 1 (e.g. 1.25 for 0.80-1.25)")
        lo, hi = 1 / float(margin), float(margin)
    if not lo < hi or (kind == "ratio" and lo <= 0):
        raise InputError(
            f"margins ({lo}, {hi}) are not an interval" + (" of positive ratios" if kind == "ratio" else "")
        )
    if kind == "absolute" and not lo < 0 < hi:
        raise InputError(f"absolute margins ({lo}, {hi}) must contain 0")
    if kind == "ratio" and not lo < 1 < hi:
        raise InputError(f"ratio margins ({lo}, {hi}) must contain 1")
    return lo, hi


def tost(
    reference: np.ndarray,
    test: np.ndarray,
    margin: float | tuple[float, float],
    kind: str = "absolute",
    welch: bool = True,
    alpha: float = 0.05,
    cqa: str = "value",
    names: tuple[str, str] = ("reference", "test"),
) -> Equivalence:
    """Equivalence of ``test`` to ``reference`` by two one-sided t-tests at ``alpha``."""
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(test, dtype=np.float64)
    for arr, nm in ((a, names[0]), (b, names[1])):
        if arr.size < 2:
            raise InputError(f"{cqa}: group {nm!r} has {arr.size} value(s); TOST needs at least 2 per group")
    lo, hi = margins(margin, kind)
    notes: list[str] = []
    if kind == "ratio":
        if np.any(a <= 0) or np.any(b <= 0):
            raise InputError(f"{cqa}: ratio margins need positive values")
        xa, xb, llo, lhi = np.log(a), np.log(b), math.log(lo), math.log(hi)
    else:
        xa, xb, llo, lhi = a, b, lo, hi
    na, nb = xa.size, xb.size
    va, vb = xa.var(ddof=1), xb.var(ddof=1)
    diff = float(xb.mean() - xa.mean())
    if welch:
        se = math.sqrt(va / na + vb / nb)
        df = (
            (va / na + vb / nb) ** 2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
            if se > 0
            else na + nb - 2
        )
    else:
        sp2 = ((na - 1) * va + (nb - 1) * vb) / (na + nb - 2)
        se = math.sqrt(sp2 * (1 / na + 1 / nb))
        df = na + nb - 2
    if se == 0:
        raise InputError(f"{cqa}: no variation in either group")
    p_lower = float(stats.t.sf((diff - llo) / se, df))
    p_upper = float(stats.t.cdf((diff - lhi) / se, df))
    q = stats.t.ppf(1 - alpha, df)
    ci = (diff - q * se, diff + q * se)
    est = diff
    if kind == "ratio":
        est, ci = math.exp(diff), (math.exp(ci[0]), math.exp(ci[1]))
    if na < 3 or nb < 3:
        notes.append("fewer than 3 lots in a group: the test has little power")
    return Equivalence(
        cqa,
        names[0],
        names[1],
        na,
        nb,
        float(a.mean()),
        float(b.mean()),
        float(a.std(ddof=1)),
        float(b.std(ddof=1)),
        kind,
        float(est),
        float(ci[0]),
        float(ci[1]),
        lo,
        hi,
        p_lower,
        p_upper,
        float(df),
        welch,
        1 - 2 * alpha,
        notes,
    )


@dataclass
class ComparabilityReport:
    reference: str
    test: str
    results: list[Equivalence]

    @property
    def comparable(self) -> bool:
        return all(r.equivalent for r in self.results)

    def to_dict(self) -> dict:
        return {
            "reference": self.reference,
            "test": self.test,
            "comparable": self.comparable,
            "n_cqas": len(self.results),
            "results": [r.to_dict() for r in self.results],
        }


def compare_groups(
    groups: list[str] | np.ndarray,
    columns: dict[str, np.ndarray],
    margin_of: dict[str, tuple[float | tuple[float, float], str]],
    reference: str | None = None,
    welch: bool = True,
    alpha: float = 0.05,
) -> ComparabilityReport:
    """TOST of every CQA column between the two lot sets named in ``groups`` (reference = first seen)."""
    g = np.asarray(groups).astype(str)
    seen = list(dict.fromkeys(g.tolist()))
    if len(seen) != 2:
        raise InputError(f"comparability needs exactly 2 groups, found {len(seen)}: {', '.join(seen[:5])}")
    ref = reference or seen[0]
    if ref not in seen:
        raise InputError(f"reference group {ref!r} not found (groups: {', '.join(seen)})")
    other = seen[1] if ref == seen[0] else seen[0]
    out = []
    for cqa, vals in columns.items():
        m, kind = margin_of[cqa]
        v = np.asarray(vals, dtype=np.float64)
        keep = np.isfinite(v)
        out.append(
            tost(v[(g == ref) & keep], v[(g == other) & keep], m, kind, welch, alpha, cqa, (ref, other))
        )
    return ComparabilityReport(ref, other, out)
