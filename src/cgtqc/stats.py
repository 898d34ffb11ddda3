"""Small statistics every engine shares: binomial intervals and multiple-testing correction.

One implementation each, on statsmodels, so a percentage of reads, events or droplets gets the same interval
wherever it is computed.
"""

from __future__ import annotations

from collections.abc import Sequence

from cgtqc.errors import InputError


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of k successes in n trials, as fractions; (0, 1) when n is 0 (no information)."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= k <= n:
        raise InputError(f"count {k} outside 0..{n}", place="binomial interval")
    from statsmodels.stats.proportion import proportion_confint  # imported when used: ~0.5 s

    lo, hi = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    return (0.0 if k == 0 else max(0.0, float(lo)), 1.0 if k == n else min(1.0, float(hi)))


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (false discovery rate), in input order."""
    if len(pvalues) == 0:
        return []
    from statsmodels.stats.multitest import multipletests  # imported when used: ~0.5 s

    return [float(x) for x in multipletests(list(pvalues), method="fdr_bh")[1]]
