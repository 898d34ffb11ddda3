"""Simulated data with known truth: lot histories (drifts, shifts, one planted out-of-trend lot), stability
studies, two-site lot sets and method-validation designs. Fixed seeds make every file reproducible; the demo
and the README's worked examples are built from these.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cgtqc.errors import InputError

KINDS = ("history", "stability", "sites", "accuracy", "precision", "linearity", "lod95")


@dataclass
class Simulated:
    """Rows of a CSV with the truth that made them."""

    kind: str
    columns: list[str]
    rows: list[list]
    truth: dict = field(default_factory=dict)

    def column(self, name: str) -> list:
        i = self.columns.index(name)
        return [r[i] for r in self.rows]

    def write_csv(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        with p.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(self.columns)
            for r in self.rows:
                w.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in r])
        return p


def lot_history(
    n_lots: int = 30,
    mean: float = 100.0,
    sd: float = 2.0,
    *,
    drift: tuple[int, float] | None = None,
    shift: tuple[int, float] | None = None,
    oot_lot: int | None = None,
    oot_sigma: float = 4.0,
    replicates: int = 1,
    replicate_sd: float | None = None,
    prefix: str = "LOT",
    site: str = "Site A",
    seed: int = 1,
) -> Simulated:
    """A product's lot history: stable around ``mean`` with lot-to-lot SD ``sd``.

    ``drift=(start, per_lot)`` adds ``per_lot`` (in SD units) each lot from ``start`` on; ``shift=(start,
    size)`` moves the mean by ``size`` SDs from lot ``start``; ``oot_lot`` (0-based) plants one lot
    ``oot_sigma`` SDs above the mean it would have had. With ``replicates`` > 1 each lot has that many
    assay replicates (within-lot SD ``replicate_sd``, default sd / 2).
    """
    if n_lots < 1:
        raise InputError("n_lots must be >= 1")
    rng = np.random.default_rng(seed)
    i = np.arange(n_lots)
    mu = np.full(n_lots, float(mean))
    if drift is not None:
        mu += np.where(i >= drift[0], (i - drift[0] + 1) * drift[1] * sd, 0.0)
    if shift is not None:
        mu += np.where(i >= shift[0], shift[1] * sd, 0.0)
    lot_values = mu + rng.normal(0.0, sd, n_lots)
    if oot_lot is not None:
        if not 0 <= oot_lot < n_lots:
            raise InputError(f"oot_lot {oot_lot} outside 0..{n_lots - 1}")
        lot_values[oot_lot] = mu[oot_lot] + oot_sigma * sd
    names = [f"{prefix}-{j + 1:04d}" for j in range(n_lots)]
    truth = {
        "mean": mean,
        "sd": sd,
        "drift": drift,
        "shift": shift,
        "oot_lot": oot_lot,
        "oot_lot_name": names[oot_lot] if oot_lot is not None else None,
        "lot_means": lot_values.tolist(),
    }
    if replicates <= 1:
        rows = [[names[j], j + 1, site, float(lot_values[j])] for j in range(n_lots)]
        return Simulated("history", ["lot", "order", "site", "value"], rows, truth)
    rs = sd / 2 if replicate_sd is None else replicate_sd
    rows = []
    for j in range(n_lots):
        for r in range(replicates):
            rows.append([names[j], j + 1, site, r + 1, float(lot_values[j] + rng.normal(0.0, rs))])
    return Simulated("history", ["lot", "order", "site", "replicate", "value"], rows, truth)


def stability_study(
    batches: int = 3,
    times: tuple[float, ...] = (0, 3, 6, 9, 12, 18, 24),
    intercept: float = 100.0,
    slope: float = -0.25,
    sd: float = 0.5,
    intercept_sd: float = 0.0,
    slope_sd: float = 0.0,
    log: bool = False,
    seed: int = 2,
) -> Simulated:
    """Batches on stability: value = a_b + s_b t + e (on the log scale when ``log``)."""
    rng = np.random.default_rng(seed)
    rows = []
    truth = {"intercept": intercept, "slope": slope, "sd": sd, "batches": {}}
    for b in range(batches):
        a = intercept + rng.normal(0, intercept_sd) if intercept_sd else intercept
        s = slope + rng.normal(0, slope_sd) if slope_sd else slope
        name = f"B{b + 1}"
        truth["batches"][name] = {"intercept": a, "slope": s}
        for t in times:
            v = a + s * t + rng.normal(0, sd)
            rows.append([name, float(t), float(np.exp(v) if log else v)])
    return Simulated("stability", ["batch", "month", "value"], rows, truth)


def site_lots(
    n_reference: int = 12,
    n_test: int = 10,
    cqas: dict[str, tuple[float, float, float]] | None = None,
    sites: tuple[str, str] = ("central", "point-of-care"),
    seed: int = 3,
) -> Simulated:
    """Two lot sets; ``cqas`` maps a CQA to (mean, sd, shift of the test site's mean)."""
    cq = cqas or {
        "viability": (88.0, 2.5, -0.5),
        "car_positive_pct": (40.0, 5.0, 1.0),
        "vcn": (2.4, 0.4, 0.05),
    }
    rng = np.random.default_rng(seed)
    rows = []
    for gi, (site, n) in enumerate(zip(sites, (n_reference, n_test), strict=True)):
        for j in range(n):
            vals = [float(m + (d if gi else 0.0) + rng.normal(0, s)) for m, s, d in cq.values()]
            rows.append([f"{site[:3].upper()}-{j + 1:03d}", site, *vals])
    return Simulated("sites", ["lot", "site", *cq], rows, {"cqas": cq})


def accuracy_design(
    levels: tuple[float, ...] = (50, 100, 150),
    replicates: int = 3,
    bias_pct: float = 1.0,
    cv_pct: float = 2.0,
    seed: int = 4,
) -> Simulated:
    rng = np.random.default_rng(seed)
    rows = [
        [float(x), float(x * (1 + bias_pct / 100) * (1 + rng.normal(0, cv_pct / 100)))]
        for x in levels
        for _ in range(replicates)
    ]
    return Simulated("accuracy", ["nominal", "measured"], rows, {"bias_pct": bias_pct, "cv_pct": cv_pct})


def precision_design(
    analysts: int = 2,
    days: int = 3,
    replicates: int = 3,
    mean: float = 100.0,
    sd_analyst: float = 1.0,
    sd_day: float = 1.5,
    sd_rep: float = 1.0,
    seed: int = 5,
) -> Simulated:
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(analysts):
        ea = rng.normal(0, sd_analyst)
        for d in range(days):
            ed = rng.normal(0, sd_day)
            for r in range(replicates):
                rows.append(
                    [f"A{a + 1}", f"A{a + 1}-D{d + 1}", r + 1, float(mean + ea + ed + rng.normal(0, sd_rep))]
                )
    return Simulated(
        "precision",
        ["analyst", "day", "replicate", "value"],
        rows,
        {"sd_analyst": sd_analyst, "sd_day": sd_day, "sd_repeatability": sd_rep},
    )


def linearity_design(
    levels: tuple[float, ...] = (10, 25, 50, 75, 100, 125),
    replicates: int = 3,
    slope: float = 0.98,
    intercept: float = 0.5,
    sd: float = 0.8,
    seed: int = 6,
) -> Simulated:
    rng = np.random.default_rng(seed)
    rows = [
        [float(x), float(intercept + slope * x + rng.normal(0, sd))]
        for x in levels
        for _ in range(replicates)
    ]
    return Simulated(
        "linearity", ["concentration", "response"], rows, {"slope": slope, "intercept": intercept, "sd": sd}
    )


def lod95_design(
    concentrations: tuple[float, ...] = (1, 3, 10, 30, 100),
    replicates: int = 24,
    lod95_true: float = 20.0,
    slope: float = 2.0,
    seed: int = 7,
) -> Simulated:
    """Hits per concentration from a probit curve on log10 concentration with the given LOD95."""
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    b0 = norm.ppf(0.95) - slope * np.log10(lod95_true)
    rows = [
        [float(c), int(rng.binomial(replicates, norm.cdf(b0 + slope * np.log10(c)))), replicates]
        for c in concentrations
    ]
    return Simulated(
        "lod95", ["concentration", "hits", "replicates"], rows, {"lod95": lod95_true, "probit_slope": slope}
    )
