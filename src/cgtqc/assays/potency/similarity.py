"""Similarity (parallelism) of a test curve to the reference by equivalence testing (USP <1032>/<1034>).

The test and reference curves are fitted without constraints (one joint fit, pooled residual variance). For
each curve parameter the 90% confidence interval (two one-sided tests at 5%) of its difference or ratio must
lie inside the user's equivalence margins, set from historical data. Failing one parameter makes the curves
non-similar: a relative potency is then not reportable, and the parallel model is never pooled silently.
A p-value test of parallelism is deliberately not used: it rewards noisy assays.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from cgtqc.assays.potency.fit import FitFailure, JointFit, build_design, delta_se, fit_joint


@dataclass(frozen=True)
class SimilarityMargins:
    """Equivalence margins. Defaults are conventions for a start, to be replaced by margins set from the
    assay's historical reference-vs-reference data.

    ``slope_ratio``: test/reference slope (and 5PL asymmetry) ratio interval; ``asymptote_fraction``: the
    difference of each asymptote as a fraction of the reference response span, within +/- this value.
    """

    slope_ratio: tuple[float, float] = (0.67, 1.50)
    asymptote_fraction: float = 0.20
    level: float = 0.90

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EquivalenceTest:
    """One parameter comparison: estimate, its (1 - 2 alpha) interval, the margins and the verdict."""

    parameter: str
    estimate: float
    ci_low: float
    ci_high: float
    margin_low: float
    margin_high: float

    @property
    def passed(self) -> bool:
        return (
            math.isfinite(self.ci_low)
            and math.isfinite(self.ci_high)
            and self.margin_low <= self.ci_low
            and self.ci_high <= self.margin_high
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"] = self.passed
        return d


@dataclass
class SimilarityResult:
    """Verdict of the similarity assessment of one test sample against the reference."""

    test: str
    reference: str
    tests: list[EquivalenceTest] = field(default_factory=list)
    error: str = ""
    margins: SimilarityMargins = field(default_factory=SimilarityMargins)

    @property
    def similar(self) -> bool:
        return not self.error and bool(self.tests) and all(t.passed for t in self.tests)

    @property
    def verdict(self) -> str:
        if self.error:
            return f"not assessable: {self.error}"
        if self.similar:
            return "similar"
        failed = ", ".join(t.parameter for t in self.tests if not t.passed)
        return f"non-similar ({failed} outside margins)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "reference": self.reference,
            "similar": self.similar,
            "verdict": self.verdict,
            "tests": [t.to_dict() for t in self.tests],
            "margins": self.margins.to_dict(),
        }


def _interval(fit: JointFit, func, level: float, log: bool = False) -> tuple[float, float, float]:
    v, se = delta_se(fit, func)
    t = float(stats.t.ppf(0.5 + level / 2.0, fit.df))
    lo, hi = v - t * se, v + t * se
    if log:
        return math.exp(v), math.exp(lo), math.exp(hi)
    return v, lo, hi


def compare_parameters(
    fit: JointFit, reference: str, test: str, margins: SimilarityMargins
) -> list[EquivalenceTest]:
    """Equivalence tests of slope (ratio), asymptotes (difference / reference span) and 5PL asymmetry."""
    names = fit.design.names
    ix = {n: i for i, n in enumerate(names)}
    r, t = reference, test
    out: list[EquivalenceTest] = []
    lo, hi = margins.slope_ratio

    def log_ratio(name: str):
        return lambda th: math.log(abs(th[ix[f"{name}[{t}]"]])) - math.log(abs(th[ix[f"{name}[{r}]"]]))

    def rel_diff(name: str):
        return lambda th: (
            (th[ix[f"{name}[{t}]"]] - th[ix[f"{name}[{r}]"]]) / abs(th[ix[f"d[{r}]"]] - th[ix[f"c[{r}]"]])
        )

    if np.sign(fit.value(f"b[{t}]")) != np.sign(fit.value(f"b[{r}]")):
        nan = float("nan")
        out.append(EquivalenceTest("slope ratio", nan, nan, nan, lo, hi))
    else:
        out.append(
            EquivalenceTest("slope ratio", *_interval(fit, log_ratio("b"), margins.level, log=True), lo, hi)
        )
    c_is_lower = fit.value(f"c[{r}]") < fit.value(f"d[{r}]")
    m = margins.asymptote_fraction
    for name, label in (("c", "lower" if c_is_lower else "upper"), ("d", "upper" if c_is_lower else "lower")):
        out.append(
            EquivalenceTest(
                f"{label} asymptote difference (fraction of reference span)",
                *_interval(fit, rel_diff(name), margins.level),
                -m,
                m,
            )
        )
    if f"logg[{r}]" in ix:

        def g_ratio(th):
            return th[ix[f"logg[{t}]"]] - th[ix[f"logg[{r}]"]]

        out.append(
            EquivalenceTest("asymmetry ratio", *_interval(fit, g_ratio, margins.level, log=True), lo, hi)
        )
    out.sort(key=lambda e: e.parameter)
    return out


def assess_similarity(
    dose: np.ndarray,
    response: np.ndarray,
    groups: list[str],
    reference: str,
    test: str,
    model: str = "4pl",
    margins: SimilarityMargins | None = None,
    weights: np.ndarray | None = None,
) -> SimilarityResult:
    """Fit reference and test without constraints and test each parameter for equivalence."""
    margins = margins or SimilarityMargins()
    mask = np.array([g in (reference, test) for g in groups])
    gsub = [g for g in groups if g in (reference, test)]
    design = build_design(gsub, model, parallel=False)
    try:
        w = None if weights is None else np.asarray(weights)[mask]
        fit = fit_joint(np.asarray(dose)[mask], np.asarray(response)[mask], gsub, design, weights=w)
    except FitFailure as exc:
        return SimilarityResult(test, reference, error=f"unconstrained fit failed ({exc})", margins=margins)
    return SimilarityResult(
        test, reference, compare_parameters(fit, reference, test, margins), margins=margins
    )
