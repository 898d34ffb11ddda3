"""Small statistics every engine shares: binomial intervals and multiple-testing correction.

One implementation each, so a percentage of reads, events or droplets gets the same interval wherever it is
computed: the Wilson interval is statsmodels' formula written out (bit-identical, tested) so that engines do
not import statsmodels (~0.5-1 s) for it; the false discovery rate is statsmodels' own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from cgtqc.errors import InputError


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of k successes in n trials, as fractions; (0, 1) when n is 0 (no information)."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= k <= n:
        raise InputError(f"count {k} outside 0..{n}", place="binomial interval")
    from scipy.special import ndtri  # the normal quantile scipy.stats uses, without importing it (~0.5 s)

    # statsmodels' proportion_confint(method="wilson"), operation for operation (bit-identical; tested)
    crit = -float(ndtri((1 - confidence) / 2.0))
    crit2 = crit**2
    q = k / n
    denom = 1 + crit2 / n
    center = (q + crit2 / (2 * n)) / denom
    dist = crit * math.sqrt(q * (1.0 - q) / n + crit2 / (4.0 * float(n) ** 2)) / denom
    lo, hi = center - dist, center + dist
    return (0.0 if k == 0 else max(0.0, lo), 1.0 if k == n else min(1.0, hi))


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (false discovery rate), in input order."""
    if len(pvalues) == 0:
        return []
    from statsmodels.stats.multitest import multipletests  # imported when used: ~0.5 s

    return [float(x) for x in multipletests(list(pvalues), method="fdr_bh")[1]]
