"""Clonal diversity indices of an integration-site population.

Every index but Chao1 uses the relative abundance ``p = a / sum(a)`` of the ``abundance`` given (the
sonicLength ``theta`` in the command line). Chao1 counts singletons and doubletons, so it needs integer
counts: the ``counts`` argument (unique fragment lengths per site in the command line). Clones with
abundance 0 are not clones and are dropped before any index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cgtqc.errors import InputError


@dataclass(frozen=True)
class Diversity:
    """Diversity of one population; ``simpson`` is the concentration sum(p^2), not 1 - sum(p^2)."""

    n_clones: int
    shannon: float  # -sum p ln p (natural log)
    simpson: float  # sum p^2
    inverse_simpson: float  # 1 / sum p^2
    gini: float
    clonality: float  # 1 - shannon / ln N (1 for a single clone)
    uc50: int  # fewest top clones reaching 50% of the total
    top_clone_fraction: float
    chao1: float | None
    chao1_se: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _clean(values: Sequence[float], what: str) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numbers") from None
    if x.size == 0:
        raise InputError(f"{what}: no values given")
    if np.any(np.isnan(x)) or np.any(np.isinf(x)):
        raise InputError(f"{what} must be finite (got NaN or infinity)")
    if np.any(x < 0):
        raise InputError(f"{what} must not be negative")
    x = x[x > 0]
    if x.size == 0:
        raise InputError(f"{what}: every value is zero")
    return x


def gini(x: np.ndarray) -> float:
    """Gini coefficient of positive values: 0 when all are equal, towards 1 when one dominates."""
    s = np.sort(x)
    n = s.size
    ranks = np.arange(1, n + 1)
    return float(np.sum((2 * ranks - n - 1) * s) / (n * s.sum()))


def chao1(counts: Sequence[int]) -> tuple[float, float]:
    """Bias-corrected Chao1 ``S_obs + F1 (F1 - 1) / (2 (F2 + 1))`` and its SE as R vegan's ``estimateR``.

    The SE is vegan's variance derived from the bias-corrected estimate itself (not the EstimateS form).
    """
    x = _clean(counts, "counts")
    if np.any(x != np.round(x)):
        raise InputError("Chao1 counts must be whole numbers")
    f1, f2 = float(np.sum(x == 1)), float(np.sum(x == 2))
    s = x.size + f1 * (f1 - 1) / (2 * (f2 + 1))
    a = -f1 * (f1 + f2) ** 2
    b = (
        -1
        - 4 * f2
        - 5 * f2**2
        - 2 * f2**3
        + f1 * (-2 - f2 + 2 * f2**2 + 2 * f2**3 + f1 * (4 + 6 * f2 + 4 * f2**2 + f1 * f2))
    )
    var = f1 * (a + b * s) / (4 * (f2 + 1) ** 4 * s)
    return float(s), float(math.sqrt(max(var, 0.0)))


def diversity(abundance: Sequence[float], counts: Sequence[int] | None = None) -> Diversity:
    """All indices of one population; Chao1 only when integer ``counts`` per clone are given."""
    a = _clean(abundance, "abundance")
    p = np.sort(a)[::-1] / a.sum()
    n = p.size
    shannon = float(-np.sum(p * np.log(p)))
    simpson = float(np.sum(p**2))
    reached = np.cumsum(p) >= 0.5 - 1e-12
    ch, se = chao1(counts) if counts is not None else (None, None)
    return Diversity(
        n_clones=n,
        shannon=shannon,
        simpson=simpson,
        inverse_simpson=1.0 / simpson,
        gini=gini(a),
        clonality=1.0 - shannon / math.log(n) if n > 1 else 1.0,
        uc50=int(np.argmax(reached)) + 1,
        top_clone_fraction=float(p[0]),
        chao1=ch,
        chao1_se=se,
    )
