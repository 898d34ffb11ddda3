"""Simulated FCS 3.1 files with known truth for each flow panel (tests, demo lots, training).

Every file is made the same way: populations of events with known fractions (counting beads, debris,
dead cells included) get log-normal marker intensities and normal scatter, the true fluorescence is
mixed through a spillover matrix that is written as $SPILLOVER, detector noise is added, events are
shuffled, and FlowIO writes the FCS 3.1 file. Counts are Poisson draws around the expected numbers,
so an estimate differs from the truth only by sampling error (its binomial/Poisson SE). All randomness
comes from ``numpy.random.default_rng(seed)``: the same seed writes the same file.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flowio
import numpy as np

SCATTER = ("FSC-A", "SSC-A")
AUTOFLUORESCENCE = 150.0  # median of an unstained cell in any detector
NOISE_SD = 40.0  # additive detector noise, before compensation
LOG_SD = 0.12  # log10 spread of a stained population
BEAD_INTENSITY = 1.8e5  # counting beads are bright in every detector

#: detectors and the marker each panel puts on them ($PnN -> $PnS)
PANEL_MARKERS: dict[str, dict[str, str]] = {
    "cd34": {"FL1-A": "CD45", "FL2-A": "CD34", "FL3-A": "7-AAD"},
    "cart": {
        "FL1-A": "CD45",
        "FL2-A": "CAR",
        "FL3-A": "7-AAD",
        "FL4-A": "CD3",
        "FL5-A": "CD4",
        "FL6-A": "CD8",
    },
    "msc": {
        "FL1-A": "CD90",
        "FL2-A": "CD105",
        "FL3-A": "7-AAD",
        "FL4-A": "CD73",
        "FL5-A": "CD45",
        "FL6-A": "CD34",
        "FL7-A": "CD14",
        "FL8-A": "CD19",
        "FL9-A": "HLA-DR",
    },
    "transduction": {"FL1-A": "GFP", "FL2-A": "CD34", "FL3-A": "7-AAD"},
}


@dataclass(frozen=True, eq=False)
class Population:
    """Events of one kind: scatter medians and the median intensity of each stained marker."""

    name: str
    fsc: float
    ssc: float
    markers: dict[str, float] = field(default_factory=dict)
    bead: bool = False


@dataclass
class SimulatedFcs:
    """A written file, the truth it was drawn from, and each event's population label."""

    path: Path
    panel: str
    truth: dict[str, Any]
    parameters: dict[str, Any]
    labels: np.ndarray
    populations: list[str]
    counts: dict[str, int]


def spillover(n: int) -> np.ndarray:
    """A realistic n-detector spillover matrix (rows: fluorochromes, columns: detectors)."""
    s = np.eye(n)
    for i in range(n):
        if i + 1 < n:
            s[i, i + 1] = 0.15
        if i + 2 < n:
            s[i, i + 2] = 0.03
        if i >= 1:
            s[i, i - 1] = 0.02
    return s


def _events(
    pop: Population, n: int, detectors: list[str], markers: dict[str, str], rng: np.random.Generator
) -> np.ndarray:
    """True (pre-spillover) values of n events: scatter then one column per detector."""
    out = np.empty((n, 2 + len(detectors)))
    out[:, 0] = rng.normal(pop.fsc, 0.12 * pop.fsc, n)
    out[:, 1] = rng.normal(pop.ssc, 0.12 * pop.ssc, n)
    for j, det in enumerate(detectors):
        median = BEAD_INTENSITY if pop.bead else pop.markers.get(markers[det], AUTOFLUORESCENCE)
        spread = 0.04 if pop.bead else LOG_SD
        out[:, 2 + j] = median * 10 ** rng.normal(0.0, spread, n)
    return out


def write_fcs(
    path: str | Path, events: np.ndarray, pnn: list[str], pns: list[str], metadata: dict[str, str]
) -> Path:
    """Write events (n x channels) as FCS 3.1 float data with FlowIO."""
    path = Path(path)
    data = array("f")
    data.frombytes(np.ascontiguousarray(events, dtype="<f4").tobytes())
    with open(path, "wb") as fh:
        flowio.create_fcs(fh, data, pnn, opt_channel_names=pns, metadata_dict=metadata)
    return path


def simulate(
    path: str | Path,
    panel: str,
    counts: dict[Population, int],
    seed: int,
    truth: dict[str, Any],
    parameters: dict[str, Any],
) -> SimulatedFcs:
    """Draw the given number of events of each population and write them as one FCS 3.1 file."""
    rng = np.random.default_rng(seed)
    markers = PANEL_MARKERS[panel]
    detectors = sorted(markers, key=lambda d: int(d[2:-2]))
    pops = [p for p in counts if counts[p] > 0]
    blocks = [_events(p, counts[p], detectors, markers, rng) for p in pops]
    labels = np.concatenate([np.full(counts[p], i, dtype=np.int16) for i, p in enumerate(pops)])
    true = np.vstack(blocks)
    spill = spillover(len(detectors))
    observed = true.copy()
    observed[:, 2:] = true[:, 2:] @ spill + rng.normal(0.0, NOISE_SD, (len(true), len(detectors)))
    order = rng.permutation(len(true))
    observed, labels = observed[order], labels[order]
    time = np.sort(rng.uniform(0.0, len(true) / 2000.0, len(true)))
    events = np.column_stack([observed, time])
    pnn = [*SCATTER, *detectors, "Time"]
    pns = ["", "", *[markers[d] for d in detectors], ""]
    spill_text = ",".join([str(len(detectors)), *detectors, *(f"{v:g}" for v in spill.ravel())])
    meta = {
        "$SPILLOVER": spill_text,
        "$CYT": "cgtqc simulator",
        "$SRC": f"{panel} seed {seed}",
        "$FIL": Path(path).name,
        "$TIMESTEP": "0.0005",
    }
    write_fcs(path, events, pnn, pns, meta)
    return SimulatedFcs(
        Path(path),
        panel,
        truth,
        {**parameters, "seed": seed},
        labels,
        [p.name for p in pops],
        {p.name: counts[p] for p in pops},
    )


def _dead(pop: Population, dead_marker: str = "7-AAD") -> Population:
    """The dead counterpart of a population: 7-AAD bright, smaller, dimmer stains."""
    markers = {m: v * 0.8 for m, v in pop.markers.items()}
    markers[dead_marker] = 2.0e4
    return Population(f"{pop.name} dead", pop.fsc * 0.75, pop.ssc * 0.9, markers)


DEBRIS = Population("debris", 7_000.0, 6_000.0)


def _poisson(rng: np.random.Generator, mean: float) -> int:
    return int(rng.poisson(mean))


# --------------------------------------------------------------------------------------------
# Panels
# --------------------------------------------------------------------------------------------


def simulate_cd34(
    path: str | Path,
    seed: int = 1,
    wbc_per_ul: float = 20_000.0,
    cd34_pct: float = 1.0,
    cd34_viability: float = 96.0,
    other_viability: float = 88.0,
    target_cd45_events: int = 100_000,
    beads_per_test: int = 50_000,
    volume_ul: float = 100.0,
    dilution: float = 1.0,
    debris_per_cd45: float = 0.08,
) -> SimulatedFcs:
    """ISHAGE tube: leukocytes (lymphocytes, monocytes, granulocytes, CD34+ CD45dim), dead cells, debris
    and counting beads. ``cd34_pct`` is of all CD45+ leukocytes; concentrations are of the undiluted
    sample; the acquired share of the tube gives about ``target_cd45_events`` CD45+ events."""
    rng = np.random.default_rng(seed)
    cells_in_tube = wbc_per_ul / dilution * volume_ul
    share = min(1.0, target_cd45_events / cells_in_tube)
    expected = {
        "CD34+": cells_in_tube * share * cd34_pct / 100,
        "lymphocyte": cells_in_tube * share * (1 - cd34_pct / 100) * 0.45,
        "monocyte": cells_in_tube * share * (1 - cd34_pct / 100) * 0.15,
        "granulocyte": cells_in_tube * share * (1 - cd34_pct / 100) * 0.40,
    }
    pops = {
        "CD34+": Population("CD34+", 55_000, 22_000, {"CD45": 3_000, "CD34": 15_000}),
        "lymphocyte": Population("lymphocyte", 50_000, 15_000, {"CD45": 20_000}),
        "monocyte": Population("monocyte", 80_000, 45_000, {"CD45": 30_000}),
        "granulocyte": Population("granulocyte", 90_000, 130_000, {"CD45": 9_000}),
    }
    counts: dict[Population, int] = {}
    for name, mean in expected.items():
        viab = (cd34_viability if name == "CD34+" else other_viability) / 100
        counts[pops[name]] = _poisson(rng, mean * viab)
        counts[_dead(pops[name])] = _poisson(rng, mean * (1 - viab))
    counts[Population("beads", 30_000, 8_000, bead=True)] = _poisson(rng, beads_per_test * share)
    counts[DEBRIS] = _poisson(rng, target_cd45_events * debris_per_cd45)
    v34 = cd34_pct * cd34_viability
    vall = v34 + (100 - cd34_pct) * other_viability
    truth = {
        "cd34_viable_per_ul": wbc_per_ul * cd34_pct / 100 * cd34_viability / 100,
        "cd34_total_per_ul": wbc_per_ul * cd34_pct / 100,
        "cd34_viability": cd34_viability,
        "cd34_purity_pct": 100 * v34 / vall,
        "cd45_viability": vall / 100,
    }
    params = {
        "wbc_per_ul": wbc_per_ul,
        "cd34_pct": cd34_pct,
        "cd34_viability": cd34_viability,
        "other_viability": other_viability,
        "beads_per_test": beads_per_test,
        "volume_ul": volume_ul,
        "dilution": dilution,
        "acquired_share": share,
    }
    return simulate(path, "cd34", counts, int(rng.integers(2**31)), truth, params)


def simulate_cart(
    path: str | Path,
    seed: int = 1,
    n_cells: int = 120_000,
    viability: float = 85.0,
    cd3_pct: float = 92.0,
    car_pct: float = 35.0,
    cd4_pct: float = 55.0,
    cd8_pct: float = 40.0,
    debris_per_cell: float = 0.08,
) -> SimulatedFcs:
    """CAR-T product: viable and dead CD45+ cells, CD3+ T cells (CAR+ or not; CD4+, CD8+, DN or DP) and
    CD3- cells, plus debris. ``cd3_pct`` is of viable CD45+; ``car_pct``, ``cd4_pct`` (CD4+CD8-) and
    ``cd8_pct`` (CD4-CD8+) are of viable CD3+."""
    rng = np.random.default_rng(seed)
    base = {"CD45": 20_000.0}
    viable_n = n_cells * viability / 100
    counts: dict[Population, int] = {}
    t_subsets = {"CD4": cd4_pct, "CD8": cd8_pct, "DN": (100 - cd4_pct - cd8_pct)}
    for car in (True, False):
        for subset, pct in t_subsets.items():
            markers = {**base, "CD3": 12_000.0}
            if subset == "CD4":
                markers["CD4"] = 10_000.0
            if subset == "CD8":
                markers["CD8"] = 12_000.0
            if car:
                markers["CAR"] = 8_000.0
            share = cd3_pct / 100 * (car_pct if car else 100 - car_pct) / 100 * pct / 100
            pop = Population(f"T {subset} {'CAR+' if car else 'CAR-'}", 60_000, 20_000, markers)
            counts[pop] = _poisson(rng, viable_n * share)
    counts[Population("CD3- cell", 58_000, 25_000, dict(base))] = _poisson(
        rng, viable_n * (1 - cd3_pct / 100)
    )
    dead_t = _dead(Population("T", 60_000, 20_000, {**base, "CD3": 12_000.0}))
    counts[dead_t] = _poisson(rng, n_cells * (1 - viability / 100))
    counts[DEBRIS] = _poisson(rng, n_cells * debris_per_cell)
    truth = {
        "viability": viability,
        "cd3_pct": cd3_pct,
        "car_positive_pct": car_pct,
        "cd4_cd8_ratio": cd4_pct / cd8_pct,
        "cd4_pct": cd4_pct,
        "cd8_pct": cd8_pct,
    }
    params = {
        "n_cells": n_cells,
        "viability": viability,
        "cd3_pct": cd3_pct,
        "car_pct": car_pct,
        "cd4_pct": cd4_pct,
        "cd8_pct": cd8_pct,
    }
    return simulate(path, "cart", counts, int(rng.integers(2**31)), truth, params)


MSC_DEFAULT_PCT = {
    "CD105": 98.5,
    "CD73": 99.2,
    "CD90": 98.8,
    "CD45": 0.6,
    "CD34": 0.9,
    "CD14": 0.4,
    "CD19": 0.3,
    "HLA-DR": 0.8,
}


def simulate_msc(
    path: str | Path,
    seed: int = 1,
    n_cells: int = 100_000,
    viability: float = 94.0,
    marker_pct: dict[str, float] | None = None,
    debris_per_cell: float = 0.05,
) -> SimulatedFcs:
    """MSC product stained with the ISCT panel in one tube: each marker positive on a known percentage of
    viable cells (independently), dead cells and debris."""
    rng = np.random.default_rng(seed)
    pct = {**MSC_DEFAULT_PCT, **(marker_pct or {})}
    viable = _poisson(rng, n_cells * viability / 100)
    # every viable cell draws each marker independently; group identical phenotypes into populations
    pos = np.column_stack([rng.random(viable) < pct[m] / 100 for m in pct])
    patterns, per_pattern = np.unique(pos, axis=0, return_counts=True)
    counts: dict[Population, int] = {}
    for k, (pattern, n) in enumerate(zip(patterns, per_pattern, strict=True)):
        markers = {m: 10_000.0 for m, on in zip(pct, pattern, strict=True) if on}
        counts[Population(f"MSC phenotype {k}", 110_000, 60_000, markers)] = int(n)
    counts[_dead(Population("MSC", 110_000, 60_000, {"CD105": 10_000.0, "CD73": 10_000.0}))] = _poisson(
        rng, n_cells * (1 - viability / 100)
    )
    counts[DEBRIS] = _poisson(rng, n_cells * debris_per_cell)
    truth = {"viability": viability, "marker_pct": pct}
    return simulate(
        path,
        "msc",
        counts,
        int(rng.integers(2**31)),
        truth,
        {"n_cells": n_cells, "viability": viability, "marker_pct": pct},
    )


def simulate_transduction(
    path: str | Path,
    seed: int = 1,
    n_cells: int = 100_000,
    viability: float = 90.0,
    transduced_pct: float = 35.0,
    debris_per_cell: float = 0.06,
) -> SimulatedFcs:
    """Transduced cells (CD34+ here) with a reporter (GFP) on a known percentage of viable cells."""
    rng = np.random.default_rng(seed)
    viable = n_cells * viability / 100
    cell = {"CD34": 12_000.0}
    counts = {
        Population("transduced", 55_000, 22_000, {**cell, "GFP": 9_000.0}): _poisson(
            rng, viable * transduced_pct / 100
        ),
        Population("untransduced", 55_000, 22_000, dict(cell)): _poisson(
            rng, viable * (1 - transduced_pct / 100)
        ),
        _dead(Population("cell", 55_000, 22_000, dict(cell))): _poisson(rng, n_cells * (1 - viability / 100)),
        DEBRIS: _poisson(rng, n_cells * debris_per_cell),
    }
    truth = {"viability": viability, "transduced_cells_pct": transduced_pct}
    return simulate(
        path,
        "transduction",
        counts,
        int(rng.integers(2**31)),
        truth,
        {"n_cells": n_cells, "viability": viability, "transduced_pct": transduced_pct},
    )


SIMULATORS = {
    "cd34": simulate_cd34,
    "cart": simulate_cart,
    "msc": simulate_msc,
    "transduction": simulate_transduction,
}
