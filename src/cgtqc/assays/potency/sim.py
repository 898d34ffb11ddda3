"""Generators of realistic potency plate-reader exports with known truth (fixed seed) for tests and the demo.

* :func:`potency_plate`: a 96-well dose-response plate (reference and test, 8 doses, triplicate) with a known
  relative potency, plus the layout.
* :func:`ratio_plate`: percentages per effector:target or MSC:PBMC ratio (CAR-T lysis, MSC suppression).
* :func:`ido_plate`: a kynurenine standard curve (linear OD) with test and reference cells at a known IDO
  activity in % of the reference.
* :func:`elisa_plate`: a capsid ELISA 4PL standard curve and sample dilutions of a known capsid titer.

Each writes a grid export ``{name}_plate.csv`` and a layout ``{name}_layout.csv`` readable by
:func:`cgtqc.io.plate.read_plate` and :func:`cgtqc.io.plate.read_layout`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cgtqc.assays.potency.fit import curve
from cgtqc.io.plate import GeneratedRun, LayoutEntry, plate_wells, write_grid, write_layout


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
    wells = plate_wells(96)

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


KYNURENINE_STANDARDS_UM = (0.0, 6.25, 12.5, 25.0, 50.0, 100.0)


def ido_plate(
    out_dir: str | Path,
    *,
    percent_of_reference: float = 100.0,
    reference_um: float = 40.0,
    od_blank: float = 0.05,
    od_per_um: float = 0.01,
    standards_um: tuple[float, ...] = KYNURENINE_STANDARDS_UM,
    replicates: int = 3,
    cv: float = 0.02,
    seed: int = 5,
    name: str = "ido",
    test: str = "LOT",
) -> GeneratedRun:
    """IDO activity plate: kynurenine standards (role ``standard``, Dose in uM, OD linear in kynurenine),
    IFN-gamma-primed test cells (role ``sample``) and reference cells (role ``reference``); the test makes
    ``percent_of_reference`` % of the reference's kynurenine. Multiplicative OD noise ``cv``."""
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries: list[LayoutEntry] = []
    reads: dict[str, float | str] = {}
    wells = plate_wells(96)

    def put(role: str, sample: str, um: float, dose: float | None, rep: int) -> None:
        w = next(wells)
        entries.append(LayoutEntry(w, role, sample, dose, rep))
        reads[w] = (od_blank + od_per_um * um) * float(np.exp(rng.normal(0, cv)))

    for um in standards_um:
        for rep in range(1, replicates + 1):
            put("standard", "KYN", um, um, rep)
    test_um = reference_um * percent_of_reference / 100.0
    for rep in range(1, replicates + 1):
        put("sample", test, test_um, None, rep)
    for rep in range(1, replicates + 1):
        put("reference", "REF", reference_um, None, rep)
    preamble = ("Reader,simulated", "Read,OD480", "")
    export = write_grid(out_dir / f"{name}_plate.csv", reads, 96, preamble=preamble)
    layout = write_layout(out_dir / f"{name}_layout.csv", entries)
    return GeneratedRun(
        export,
        layout,
        {"percent_of_reference": percent_of_reference, "test_um": test_um, "reference_um": reference_um},
    )


ELISA_STANDARDS_CP_PER_ML = (1e8, 3e8, 1e9, 3e9, 1e10, 3e10, 1e11)
ELISA_DILUTIONS = (1e3, 3e3, 1e4, 3e4, 1e5)


def elisa_plate(
    out_dir: str | Path,
    *,
    titer_cp_per_ml: float = 1e13,
    standards: tuple[float, ...] = ELISA_STANDARDS_CP_PER_ML,
    dilutions: tuple[float, ...] = ELISA_DILUTIONS,
    slope: float = -1.0,
    bottom: float = 0.05,
    top: float = 3.0,
    ed50: float = 2e9,
    replicates: int = 2,
    cv: float = 0.03,
    seed: int = 6,
    name: str = "elisa",
    sample: str = "LOT",
) -> GeneratedRun:
    """Capsid ELISA plate: a 4PL standard curve (role ``standard``, Dose in capsids/mL) and the sample at
    several dilutions (role ``sample``, Dilution as a fold) of a product at ``titer_cp_per_ml``."""
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries: list[LayoutEntry] = []
    reads: dict[str, float | str] = {}
    wells = plate_wells(96)

    def put(role: str, samp: str, conc: float, dose: float | None, rep: int, dil: float = 1.0) -> None:
        w = next(wells)
        entries.append(LayoutEntry(w, role, samp, dose, rep, dil))
        mean = float(curve(np.array([conc]), slope, bottom, top, ed50)[0])
        reads[w] = mean * float(np.exp(rng.normal(0, cv)))

    for s in standards:
        for rep in range(1, replicates + 1):
            put("standard", "STD", s, s, rep)
    for dil in dilutions:
        for rep in range(1, replicates + 1):
            put("sample", sample, titer_cp_per_ml / dil, None, rep, dil)
    preamble = ("Reader,simulated", "Read,OD450", "")
    export = write_grid(out_dir / f"{name}_plate.csv", reads, 96, preamble=preamble)
    layout = write_layout(out_dir / f"{name}_layout.csv", entries)
    return GeneratedRun(export, layout, {"capsid_titer": titer_cp_per_ml})
