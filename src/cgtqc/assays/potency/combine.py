"""Combination of independent relative-potency assays on the log scale (USP <1034>).

Each reportable assay contributes log RP with weight 1/SE^2; the combined estimate has SE 1/sqrt(sum w) and a
chi-square heterogeneity p-value over the assays (a small p says the assays disagree more than their SEs
allow: investigate before reporting the combination).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from cgtqc.assays.potency.engine import RelativePotency
from cgtqc.errors import InputError


@dataclass(frozen=True)
class CombinedPotency:
    """Relative potency combined over independent assays (weighted on the log scale, USP <1034>)."""

    estimate: float
    ci_low: float
    ci_high: float
    n_assays: int
    heterogeneity_p: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def combine_assays(potencies: list[RelativePotency], level: float = 0.95) -> CombinedPotency:
    """Inverse-variance weighted mean of log RP over reportable assays, with a chi-square heterogeneity p."""
    use = [p for p in potencies if p.reportable and p.log_se]
    if not use:
        raise InputError("no reportable relative potency to combine")
    logs = np.array([math.log(p.estimate) for p in use])  # type: ignore[arg-type]
    w = np.array([1.0 / p.log_se**2 for p in use])  # type: ignore[operator]
    mean = float(np.sum(w * logs) / np.sum(w))
    se = math.sqrt(1.0 / float(np.sum(w)))
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    chi2 = float(np.sum(w * (logs - mean) ** 2))
    p = float(stats.chi2.sf(chi2, len(use) - 1)) if len(use) > 1 else 1.0
    return CombinedPotency(math.exp(mean), math.exp(mean - z * se), math.exp(mean + z * se), len(use), p)
