"""Generators of realistic plate-reader exports with known truth (fixed seed) for tests and the demo.

* :func:`endotoxin_run`: a kinetic chromogenic LAL plate (onset times, s) with a 5-point standard curve in
  triplicate, negative controls, product at a dilution and its positive product control, plus the layout.
  ``fault="r"`` scrambles the standard curve so |r| fails; ``fault="recovery"`` makes the product matrix
  inhibit the reaction so the spike is not recovered.
* :func:`potency_plate`: a 96-well dose-response plate (reference and test, 8 doses, triplicate) with a known
  relative potency, plus the layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cgtqc.assays.potency.fit import curve
from cgtqc.io.plate import PLATE_SHAPES, LayoutEntry, write_grid, write_layout

STANDARDS_EU_PER_ML = (0.005, 0.05, 0.5, 5.0, 50.0)


@dataclass(frozen=True)
class GeneratedRun:
    """Paths of a generated export and layout, and the truth behind them."""

    export: Path
    layout: Path
    truth: dict[str, float]


def _wells(plate_format: int = 96):
    nrow, ncol = PLATE_SHAPES[plate_format]
    for r in range(nrow):
        for c in range(ncol):
            yield f"{chr(ord('A') + r)}{c + 1}"


def onset_seconds(conc: np.ndarray, intercept: float = 3.05, slope: float = -0.26) -> np.ndarray:
    """Mean onset time (s) of a kinetic chromogenic reaction: log10 onset = intercept + slope log10 conc."""
    return 10 ** (intercept + slope * np.log10(conc))


def rfc_rate(conc: np.ndarray, intercept: float = 1.9, slope: float = 0.85) -> np.ndarray:
    """Mean rFC fluorescence rate (RFU/min): log10 rate = intercept + slope log10 conc."""
    return 10 ** (intercept + slope * np.log10(conc))


def endotoxin_run(
    out_dir: str | Path,
    *,
    sample_eu_per_ml: float = 0.8,
    dilution: float = 10.0,
    spike_eu_per_ml: float = 0.5,
    seed: int = 1,
    fault: str | None = None,
    cv: float = 0.03,
    name: str = "endotoxin",
    sample: str = "LOT",
    readout: str = "onset",
) -> GeneratedRun:
    """Write a kinetic run: grid export and layout CSV; ``truth`` holds the EU/mL of the undiluted product,
    the spike recovery fraction and the curve constants. ``readout`` 'onset' (LAL onset time, s, falling with
    endotoxin) or 'rate' (rFC fluorescence rate, RFU/min, rising; endotoxin-free wells read a blank rate)
    """
    if readout not in ("onset", "rate"):
        raise ValueError("readout must be 'onset' or 'rate'")
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wells = _wells(96)
    entries: list[LayoutEntry] = []
    reads: dict[str, float | str] = {}
    recovery = 0.3 if fault == "recovery" else 1.0
    in_well = sample_eu_per_ml / dilution

    def put(
        role: str,
        conc: float | None,
        samp: str = "",
        dose: float | None = None,
        rep: int = 1,
        dil: float = 1.0,
        spike: float | None = None,
    ) -> None:
        w = next(wells)
        entries.append(LayoutEntry(w, role, samp, dose, rep, dil, spike))
        if (conc is None or conc <= 0) and readout == "rate":
            reads[w] = float(0.2 * rfc_rate(np.array([STANDARDS_EU_PER_ML[0]]))[0])  # blank slope
        elif conc is None or conc <= 0:
            reads[w] = "No onset"
        else:
            mean = onset_seconds(np.array([conc]))[0] if readout == "onset" else rfc_rate(np.array([conc]))[0]
            reads[w] = float(mean * np.exp(rng.normal(0, cv)))

    stds = list(STANDARDS_EU_PER_ML)
    if fault == "r":
        stds_read = [stds[0], stds[3], stds[1], stds[4], stds[2]]  # wells swapped between standards
    else:
        stds_read = stds
    for k, s in enumerate(stds):
        for rep in range(1, 4):
            put("standard", stds_read[k], "STD", s, rep)
    for rep in range(1, 3):
        put("nc", None, "LRW", None, rep)
    for rep in range(1, 3):
        put("sample", in_well * recovery, sample, None, rep, dilution)
    for rep in range(1, 3):
        put("ppc", (in_well + spike_eu_per_ml) * recovery, sample, None, rep, dilution, spike_eu_per_ml)
    export = write_grid(
        out_dir / f"{name}_onset.csv",
        reads,
        96,
        preamble=(
            "Instrument,simulated kinetic reader",
            "Read,Onset time (s)" if readout == "onset" else "Read,Rate (RFU/min)",
            "",
        ),
        fmt="{:.1f}",
    )
    layout = write_layout(out_dir / f"{name}_layout.csv", entries)
    return GeneratedRun(
        export,
        layout,
        {"eu_per_ml": sample_eu_per_ml, "recovery": recovery, "dilution": dilution, "spike": spike_eu_per_ml},
    )


def potency_plate(
    out_dir: str | Path,
    *,
    relative_potency: float = 0.8,
    ed50_ref: float = 10.0,
    slope: float = -1.2,
    bottom: float = 50.0,
    top: float = 2000.0,
    cv: float = 0.05,
    doses: tuple[float, ...] | None = None,
    replicates: int = 3,
    seed: int = 2,
    name: str = "potency",
    test_slope: float | None = None,
    test_top: float | None = None,
    reference: str = "Reference",
    test: str = "Test",
    asymmetry: float = 1.0,
) -> GeneratedRun:
    """Write a 96-well dose-response plate (response grid export + layout) with a known relative potency.

    The response follows the 4PL from ``bottom`` at low dose to ``top`` at high dose when ``slope`` < 0 (an
    increasing curve such as IFN-gamma release or reporter expression); the test's ED50 is ``ed50_ref / RP``.
    ``asymmetry`` is the 5PL g (1: a symmetric 4PL curve). Multiplicative noise with coefficient of
    variation ``cv``.
    """
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if doses is None:
        doses = tuple(float(ed50_ref * 2.5**k) for k in range(-4, 4))
    entries: list[LayoutEntry] = []
    reads: dict[str, float | str] = {}
    truths = {
        reference: (slope, bottom, top, ed50_ref),
        test: (
            test_slope if test_slope is not None else slope,
            bottom,
            test_top if test_top is not None else top,
            ed50_ref / relative_potency,
        ),
    }
    for gi, (sample, (b, c, d, e)) in enumerate(truths.items()):
        for rep in range(replicates):
            row = chr(ord("A") + gi * replicates + rep)
            for k, dose in enumerate(doses):
                w = f"{row}{k + 1}"
                mean = float(curve(np.array([dose]), b, c, d, e, asymmetry)[0])
                reads[w] = mean * float(np.exp(rng.normal(0, cv)))
                entries.append(LayoutEntry(w, "sample", sample, dose, rep + 1))
    export = write_grid(out_dir / f"{name}_plate.csv", reads, 96, preamble=("Reader,simulated", ""))
    layout = write_layout(out_dir / f"{name}_layout.csv", entries)
    return GeneratedRun(export, layout, {"relative_potency": relative_potency, "ed50_ref": ed50_ref})


def ratio_plate(
    out_dir: str | Path,
    *,
    percent_by_ratio: dict[float, float],
    low: float,
    high: float,
    inhibition: bool,
    roles: tuple[str, str],
    replicates: int = 3,
    cv: float = 0.04,
    seed: int = 4,
    name: str = "ratio",
) -> GeneratedRun:
    """A plate of ratio-dependent percentages: MSC suppression (``inhibition`` True, roles unstimulated /
    stimulated) or CAR-T killing (roles spontaneous / maximum); truth is ``percent_by_ratio``."""
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries: list[LayoutEntry] = []
    reads: dict[str, float | str] = {}
    wells = _wells(96)

    def put(role: str, mean: float, dose: float | None, rep: int) -> None:
        w = next(wells)
        entries.append(LayoutEntry(w, role, "LOT" if role == "sample" else role.upper(), dose, rep))
        reads[w] = mean * float(np.exp(rng.normal(0, cv)))

    for rep in range(1, replicates + 1):
        put(roles[0], low, None, rep)
        put(roles[1], high, None, rep)
    for ratio, pct in percent_by_ratio.items():
        frac = 1 - pct / 100 if inhibition else pct / 100
        for rep in range(1, replicates + 1):
            put("sample", low + frac * (high - low), ratio, rep)
    export = write_grid(out_dir / f"{name}_plate.csv", reads, 96, preamble=("Reader,simulated", ""))
    layout = write_layout(out_dir / f"{name}_layout.csv", entries)
    return GeneratedRun(export, layout, {f"pct_at_{k:g}": v for k, v in percent_by_ratio.items()})
