"""Demo hook: endotoxin, potency and LV functional titer for each modality, from generated plate files.

Every value comes from running the engines on files the simulators wrote into ``out_dir`` with known truth,
so the demo lots carry real provenance (the generated files' SHA-256).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from cgtqc.assays.endotoxin.engine import analyze_kinetic
from cgtqc.assays.infectivity.engine import lv_titer_flow, simulate_lv_transduction
from cgtqc.assays.plate_sim import endotoxin_run, potency_plate, ratio_plate
from cgtqc.assays.potency.apps import proliferation_inhibition
from cgtqc.assays.potency.engine import analyze_potency
from cgtqc.io.plate import dose_response_from_plate, read_layout, read_plate
from cgtqc.results import Measurement

MODALITIES = ("car_t", "lv_hsc", "crispr_hsc", "aav", "lv_vector", "msc")
POTENCY_CQA = {"car_t": "potency_ifng", "aav": "potency_expression"}


def _endotoxin(modality: str, lot: str, out: Path, rng: np.random.Generator, seed: int) -> Measurement:
    truth = float(rng.uniform(0.05, 0.6))
    dilution = 10.0 if modality in ("aav", "lv_vector") else 5.0
    run = endotoxin_run(
        out,
        sample_eu_per_ml=truth,
        dilution=dilution,
        spike_eu_per_ml=0.5,
        seed=seed,
        name=f"{lot}_endotoxin",
        sample=lot,
    )
    plate = read_plate(run.export)
    m = analyze_kinetic(plate, read_layout(run.layout, plate_format=plate.plate_format)).to_measurements()[0]
    m.sample = lot
    return m


def _relative_potency(cqa: str, lot: str, out: Path, rng: np.random.Generator, seed: int) -> Measurement:
    rp = float(rng.uniform(0.85, 1.15))
    run = potency_plate(out, relative_potency=rp, seed=seed, name=f"{lot}_{cqa}", test=lot, cv=0.035)
    plate = read_plate(run.export)
    data = dose_response_from_plate(plate, read_layout(run.layout, plate_format=plate.plate_format))
    return analyze_potency(data, reference="Reference").to_measurement(cqa, lot)


def _msc(lot: str, out: Path, rng: np.random.Generator, seed: int) -> Measurement:
    at_10 = float(rng.uniform(45.0, 70.0))
    truth = {0.5: min(at_10 * 1.4, 95.0), 0.1: at_10, 0.02: at_10 * 0.45}
    run = ratio_plate(
        out,
        percent_by_ratio=truth,
        low=300.0,
        high=9000.0,
        inhibition=True,
        roles=("unstimulated", "stimulated"),
        seed=seed,
        name=f"{lot}_msc_suppression",
    )
    plate = read_plate(run.export)
    res = proliferation_inhibition(plate, read_layout(run.layout, plate_format=plate.plate_format))
    return res.to_measurement("msc_immunosuppression", 0.1, lot)


def _lv_titer(lot: str, out: Path, rng: np.random.Generator, seed: int) -> Measurement:
    tu = float(10 ** rng.uniform(8.0, 8.7))
    dilutions = [10.0, 100.0, 1000.0, 10000.0, 100000.0]
    pct = simulate_lv_transduction(tu, dilutions, cells=1e5, volume_ml=0.1, seed=seed, background_pct=0.0)
    path = out / f"{lot}_lv_titer.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["dilution", "percent_positive"])
        w.writerows(zip(dilutions, pct, strict=True))
    return lv_titer_flow(dilutions, pct, cells=1e5, volume_ml=0.1, source=path).to_measurement(sample=lot)


def measurements(modality: str, lot_number: str, out_dir: Path, seed: int) -> list[Measurement]:
    """Endotoxin for every modality; relative potency (car_t, aav), MSC suppression, LV functional titer."""
    if modality not in MODALITIES:
        return []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    result = [_endotoxin(modality, lot_number, out, rng, seed)]
    if modality in POTENCY_CQA:
        result.append(_relative_potency(POTENCY_CQA[modality], lot_number, out, rng, seed + 1))
    elif modality == "msc":
        result.append(_msc(lot_number, out, rng, seed + 1))
    elif modality == "lv_vector":
        result.append(_lv_titer(lot_number, out, rng, seed + 1))
    return result
