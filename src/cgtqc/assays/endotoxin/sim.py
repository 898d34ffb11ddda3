"""Kinetic endotoxin plate-reader exports with known truth (fixed seed) for tests, the demo and ``simulate``.

:func:`endotoxin_run` writes a kinetic chromogenic LAL plate (onset times, s) or an rFC plate (rates, RFU/min)
with a 5-point standard curve in triplicate, negative controls, product at a dilution and its positive product
control, plus the layout. ``fault="r"`` scrambles the standard curve so |r| fails; ``fault="recovery"`` makes
the product matrix inhibit the reaction so the spike is not recovered.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cgtqc.io.plate import GeneratedRun, LayoutEntry, plate_wells, write_grid, write_layout

STANDARDS_EU_PER_ML = (0.005, 0.05, 0.5, 5.0, 50.0)


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
    wells = plate_wells(96)
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
