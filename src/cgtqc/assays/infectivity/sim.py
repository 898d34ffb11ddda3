"""Raw infectivity tables with known truth (fixed seed): TCID50 plates and LV transduction series.

:func:`tcid50_wells` draws the positive wells of an endpoint-dilution plate from a true titer by the
single-hit Poisson model: a well inoculated with ``v`` mL of a 10^-x dilution of a sample of ``T`` TCID50/mL
receives on average ``ln 2 * T * v * 10^-x`` infectious units (so exactly half the wells are positive at the
true 50% endpoint) and is positive with probability ``1 - exp(-that)``; each level is binomial over its wells.
:func:`write_tcid50_table` and :func:`write_lv_titer_table` write the CSVs the infectivity engine reads.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cgtqc.assays.infectivity.engine import DilutionWells

DEFAULT_LOG10_DILUTIONS = tuple(float(x) for x in range(5, 14))
"""10^-5 ... 10^-13: brackets 10^8-10^10.5 TCID50/mL with 0.1 mL inocula, all-positive to all-negative."""


def tcid50_wells(
    log10_tcid50_per_ml: float,
    log10_dilutions: Sequence[float] = DEFAULT_LOG10_DILUTIONS,
    *,
    wells: int = 10,
    inoculum_ml: float = 0.1,
    seed: int = 0,
) -> list[DilutionWells]:
    """Positive wells per dilution of a sample of known titer (single-hit Poisson, binomial counting)."""
    rng = np.random.default_rng(seed)
    out = []
    for x in log10_dilutions:
        mean = math.log(2.0) * 10 ** (log10_tcid50_per_ml - float(x)) * inoculum_ml
        p = -math.expm1(-mean)
        out.append(DilutionWells(float(x), int(rng.binomial(wells, p)), wells))
    return out


def write_tcid50_table(path: str | Path, levels: Sequence[DilutionWells]) -> Path:
    """CSV ``log10_dilution, positive, total`` (the input of ``cgtqc infectivity tcid50``)."""
    path = Path(path)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["log10_dilution", "positive", "total"])
        w.writerows([lv.log10_dilution, lv.positive, lv.total] for lv in levels)
    return path


def write_lv_titer_table(
    path: str | Path, dilutions: Sequence[float], percent_positive: Sequence[float]
) -> Path:
    """CSV ``dilution, percent_positive`` (flow readout of an LV transduction), as the demo writes it."""
    path = Path(path)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["dilution", "percent_positive"])
        w.writerows(zip(dilutions, percent_positive, strict=True))
    return path
