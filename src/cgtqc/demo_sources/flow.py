"""Demo measurements from simulated flow cytometry files: CAR-T release panel, ISHAGE CD34+ enumeration for
HSC products (and LV transduction for LV-HSC), and the ISCT identity panel for MSC lots.

Each lot's truth is drawn from realistic ranges, written as an FCS 3.1 file with $SPILLOVER by the
simulator, gated with the shipped GatingML template and analysed by the panel, so the measurements carry the
generated file's and the template's SHA-256. Figures that come from outside flow (total viable cells of a
CAR-T product, HSC product volume and patient weight) are fixed demo parameters, named below.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from cgtqc.assays.flow import sim as flow_sim
from cgtqc.assays.flow.panels import run_panel
from cgtqc.results import Measurement

#: ISHAGE tube: counting beads per tube, sample volume (uL), product dilution before staining
BEADS_PER_TEST, TUBE_VOLUME_UL, HSC_DILUTION = 50_000, 100.0, 10.0
#: HSC drug product volume (mL) and patient weight (kg) for the dose per kg
HSC_PRODUCT_VOLUME_ML, HSC_PATIENT_WEIGHT_KG = 20.0, 40.0


def _rng(seed: int, lot: str, what: str) -> np.random.Generator:
    return np.random.default_rng(seed * 1_000_003 + zlib.crc32(f"{lot}/{what}".encode()))


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31))


def measurements(modality: str, lot_number: str, out_dir: Path, seed: int) -> list[Measurement]:
    """Flow CQAs of one demo lot; [] for modalities without a flow release test here (AAV, LV vector)."""
    out_dir = Path(out_dir)
    sample = f"{lot_number} final product"
    if modality == "car_t":
        out_dir.mkdir(parents=True, exist_ok=True)
        return _car_t(lot_number, out_dir, seed, sample)
    if modality in ("lv_hsc", "crispr_hsc"):
        out_dir.mkdir(parents=True, exist_ok=True)
        out = _cd34(lot_number, out_dir, seed, sample)
        if modality == "lv_hsc":
            out += _transduction(lot_number, out_dir, seed, sample)
        return out
    if modality == "msc":
        out_dir.mkdir(parents=True, exist_ok=True)
        return _msc(lot_number, out_dir, seed, sample)
    return []


def _car_t(lot: str, out_dir: Path, seed: int, sample: str) -> list[Measurement]:
    rng = _rng(seed, lot, "flow/car_t")
    cd4 = float(rng.uniform(40, 65))
    sim = flow_sim.simulate_cart(
        out_dir / f"{lot}_cart.fcs",
        seed=_seed(rng),
        viability=float(rng.uniform(82, 93)),
        cd3_pct=float(rng.uniform(90, 98)),
        car_pct=float(rng.uniform(25, 45)),
        cd4_pct=cd4,
        cd8_pct=float(rng.uniform(25, 95 - cd4)),
    )
    total_viable_cells = float(rng.uniform(0.6e9, 1.2e9))  # from the cell count of the same lot
    res = run_panel("cart", sim.path, sample_id=sample, total_viable_cells=total_viable_cells)
    return res.measurements()


def _cd34(lot: str, out_dir: Path, seed: int, sample: str) -> list[Measurement]:
    rng = _rng(seed, lot, "flow/cd34")
    sim = flow_sim.simulate_cd34(
        out_dir / f"{lot}_cd34.fcs",
        seed=_seed(rng),
        wbc_per_ul=float(rng.uniform(15_000, 25_000)),
        cd34_pct=float(rng.uniform(85, 96)),
        cd34_viability=float(rng.uniform(88, 97)),
        other_viability=float(rng.uniform(80, 92)),
        beads_per_test=BEADS_PER_TEST,
        volume_ul=TUBE_VOLUME_UL,
        dilution=HSC_DILUTION,
    )
    res = run_panel(
        "cd34",
        sim.path,
        sample_id=sample,
        beads_per_test=BEADS_PER_TEST,
        volume_ul=TUBE_VOLUME_UL,
        dilution=HSC_DILUTION,
        product_volume_ml=HSC_PRODUCT_VOLUME_ML,
        weight_kg=HSC_PATIENT_WEIGHT_KG,
    )
    keep = {"cd34_viable_per_ul", "cd34_viability", "cd34_dose_per_kg", "cd34_purity_pct"}
    return [m for m in res.measurements() if m.cqa in keep]


def _transduction(lot: str, out_dir: Path, seed: int, sample: str) -> list[Measurement]:
    rng = _rng(seed, lot, "flow/transduction")
    sim = flow_sim.simulate_transduction(
        out_dir / f"{lot}_transduction.fcs",
        seed=_seed(rng),
        viability=float(rng.uniform(85, 95)),
        transduced_pct=float(rng.uniform(45, 75)),
    )
    res = run_panel("transduction", sim.path, sample_id=sample)
    return [m for m in res.measurements() if m.cqa == "transduced_cells_pct"]


def _msc(lot: str, out_dir: Path, seed: int, sample: str) -> list[Measurement]:
    rng = _rng(seed, lot, "flow/msc")
    pct = {m: float(rng.uniform(96.5, 99.6)) for m in ("CD105", "CD73", "CD90")}
    pct |= {m: float(rng.uniform(0.1, 1.4)) for m in ("CD45", "CD34", "CD14", "CD19", "HLA-DR")}
    sim = flow_sim.simulate_msc(
        out_dir / f"{lot}_msc.fcs", seed=_seed(rng), viability=float(rng.uniform(88, 97)), marker_pct=pct
    )
    res = run_panel("msc", sim.path, sample_id=sample)
    return res.measurements()
