"""Run rules (tests for special causes): Nelson's eight with Minitab's defaults, and Western Electric.

Each rule is vectorised over the whole series (run lengths and window counts by cumulative sums), so a chart
of 10,000 lots is judged in a few milliseconds. A violation is reported at the point that completes the
pattern, as Minitab marks it; a point may break several rules, and each is reported.

Nelson rules, Minitab defaults (K):

1. 1 point more than K = 3 σ from the centre line
2. K = 9 points in a row on the same side of the centre line
3. K = 6 points in a row, all increasing or all decreasing
4. K = 14 points in a row, alternating up and down
5. K = 2 out of K + 1 = 3 points more than 2 σ from the centre line (same side)
6. K = 4 out of K + 1 = 5 points more than 1 σ from the centre line (same side)
7. K = 15 points in a row within 1 σ of the centre line (either side)
8. K = 8 points in a row more than 1 σ from the centre line (either side)

Western Electric: 1 = Nelson 1; 2 = 2 of 3 beyond 2 σ (Nelson 5); 3 = 4 of 5 beyond 1 σ (Nelson 6);
4 = 8 in a row on one side (Nelson 2 with K = 8). A point exactly on the centre line breaks a run of rule 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cgtqc.errors import InputError

NELSON_K: dict[int, int] = {1: 3, 2: 9, 3: 6, 4: 14, 5: 2, 6: 4, 7: 15, 8: 8}
"""Minitab's default K of each Nelson test (Stat > Control Charts > Options > Tests)."""

NELSON_TEXT = {
    1: "1 point more than {k} sigma from the centre line",
    2: "{k} points in a row on the same side of the centre line",
    3: "{k} points in a row, all increasing or all decreasing",
    4: "{k} points in a row, alternating up and down",
    5: "{k} out of {k1} points more than 2 sigma from the centre line (same side)",
    6: "{k} out of {k1} points more than 1 sigma from the centre line (same side)",
    7: "{k} points in a row within 1 sigma of the centre line (either side)",
    8: "{k} points in a row more than 1 sigma from the centre line (either side)",
}

# Western Electric rule -> (Nelson test it is, K)
WESTERN_ELECTRIC: dict[int, tuple[int, int]] = {1: (1, 3), 2: (5, 2), 3: (6, 4), 4: (2, 8)}

RULE_SETS = ("nelson", "we")


@dataclass(frozen=True)
class Violation:
    """A point that breaks a rule: its position in the chart, the rule number in its set, and what it says."""

    index: int
    rule: int | str
    ruleset: str
    description: str

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "rule": self.rule,
            "ruleset": self.ruleset,
            "description": self.description,
        }


def run_length(cond: np.ndarray) -> np.ndarray:
    """Length of the run of True values ending at each position (0 where False)."""
    n = cond.size
    idx = np.arange(n)
    last_false = np.maximum.accumulate(np.where(cond, -1, idx))
    return np.where(cond, idx - last_false, 0)


def window_count(cond: np.ndarray, width: int) -> np.ndarray:
    """How many of the last ``width`` positions (fewer at the start) are True, at each position."""
    c = np.cumsum(cond, dtype=np.int64)
    out = c.copy()
    out[width:] -= c[:-width]
    return out


def nelson_test(test: int, z: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the points failing one Nelson test; ``z`` is (x - centre) / sigma."""
    n = z.size
    if test == 1:
        return np.abs(z) > k
    if test == 2:
        return (run_length(z > 0) >= k) | (run_length(z < 0) >= k)
    if test == 3:
        d = np.diff(x)
        up = np.zeros(n, dtype=bool)
        down = np.zeros(n, dtype=bool)
        up[1:] = d > 0
        down[1:] = d < 0
        return (run_length(up) >= k - 1) | (run_length(down) >= k - 1)
    if test == 4:
        d = np.diff(x)
        alt = np.zeros(n, dtype=bool)
        if n >= 3:
            alt[2:] = d[1:] * d[:-1] < 0
        return run_length(alt) >= k - 2
    if test in (5, 6):
        level = 2.0 if test == 5 else 1.0
        hi, lo = z > level, z < -level
        return (hi & (window_count(hi, k + 1) >= k)) | (lo & (window_count(lo, k + 1) >= k))
    if test == 7:
        return run_length(np.abs(z) < 1) >= k
    if test == 8:
        return run_length(np.abs(z) > 1) >= k
    raise InputError(f"unknown Nelson test {test} (1-8)")


def apply_rules(
    x: np.ndarray,
    center: float | np.ndarray,
    sigma: float | np.ndarray,
    rules: str = "nelson",
    tests: tuple[int, ...] | None = None,
    k: dict[int, int] | None = None,
) -> list[Violation]:
    """Every violation of the chosen rule set on the plotted points ``x``, sorted by point then rule.

    ``sigma`` is the standard deviation of a plotted point (σ/√n on an X̄ chart); both it and ``center`` may
    vary by point. ``tests`` selects rules by number within the set; ``k`` overrides Nelson's K values.
    """
    if rules not in RULE_SETS:
        raise InputError(f"unknown rule set {rules!r} (nelson or we)")
    x = np.asarray(x, dtype=np.float64)
    sig = np.asarray(sigma, dtype=np.float64)
    if np.any(sig <= 0) or not np.all(np.isfinite(sig)):
        raise InputError("the chart's sigma is zero or not finite: the points do not vary")
    z = (x - center) / sig
    found: list[tuple[np.ndarray, int, str]] = []
    if rules == "nelson":
        kk = {**NELSON_K, **(k or {})}
        for t in tests or tuple(NELSON_K):
            mask = nelson_test(t, z, x, kk[t])
            found.append((mask, t, NELSON_TEXT[t].format(k=kk[t], k1=kk[t] + 1)))
    else:
        for t in tests or tuple(WESTERN_ELECTRIC):
            test, kt = WESTERN_ELECTRIC[t]
            mask = nelson_test(test, z, x, kt)
            found.append((mask, t, NELSON_TEXT[test].format(k=kt, k1=kt + 1)))
    out = [Violation(int(i), rule, rules, text) for mask, rule, text in found for i in np.flatnonzero(mask)]
    out.sort(key=lambda v: (v.index, v.rule))
    return out
