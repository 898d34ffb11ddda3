"""Demo measurements from simulated ddPCR runs: VCN for CAR-T and LV-HSC lots, AAV genome titer and
genome integrity (duplex linkage), residual plasmid DNA for lentiviral vector lots.

Each run is written as droplet amplitude files (QuantaSoft layout for VCN and plasmid, QX Manager
layout for AAV) in ``out_dir``, read back by the readers and quantified with automatic thresholds,
so a certificate's provenance carries the generated files' SHA-256. The truth is drawn per lot from
realistic ranges (VCN 2-3 copies/diploid genome; AAV about 2e13 vg/mL, 75-85% intact genomes).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from cgtqc.assays.ddpcr import apps, sim
from cgtqc.assays.ddpcr.engine import ClusterCounts, DdpcrWell, merge_wells, quantify_amplitudes
from cgtqc.assays.ddpcr.readers import read_amplitudes
from cgtqc.results import Measurement

REPLICATES = 2
# AAV: 2 µL of a 1:5e6 dilution in a 20 µL reaction
AAV_TEMPLATE_UL, AAV_REACTION_UL, AAV_DILUTION = 2.0, 20.0, 5e6
# LV vector residual plasmid: 8 kb transfer plasmid, 5 µL of a 1:1000 dilution in 20 µL
PLASMID_BP, PLASMID_TEMPLATE_UL, PLASMID_DILUTION = 8000.0, 5.0, 1000.0


def _rng(seed: int, lot: str, what: str) -> np.random.Generator:
    return np.random.default_rng(seed * 1_000_003 + zlib.crc32(f"{lot}/{what}".encode()))


def measurements(modality: str, lot_number: str, out_dir: Path, seed: int) -> list[Measurement]:
    """ddPCR CQAs of one demo lot, computed from generated droplet amplitude files."""
    out_dir = Path(out_dir)
    if modality in ("car_t", "lv_hsc"):
        out_dir.mkdir(parents=True, exist_ok=True)
        return [_vcn(modality, lot_number, out_dir, seed)]
    if modality == "aav":
        out_dir.mkdir(parents=True, exist_ok=True)
        return _aav(lot_number, out_dir, seed)
    if modality == "lv_vector":
        out_dir.mkdir(parents=True, exist_ok=True)
        return [_plasmid(lot_number, out_dir, seed)]
    return []


def _run(
    wells: list[sim.SimulatedWell],
    stem: str,
    out_dir: Path,
    layout: str,
    targets: tuple[str, str],
    sample: str,
) -> list[DdpcrWell]:
    out: list[DdpcrWell] = []
    for w in wells:
        path = sim.write_amplitude_file(out_dir / f"{stem}_{w.well}_Amplitude.csv", w, layout, targets)
        out.extend(quantify_amplitudes(read_amplitudes(path), targets=targets, sample=sample))
    return out


def _vcn(modality: str, lot: str, out_dir: Path, seed: int) -> Measurement:
    rng = _rng(seed, lot, f"vcn/{modality}")
    truth = float(rng.uniform(2.0, 3.0))
    sample = f"{lot} final product"
    wells = [sim.vcn_well(rng, f"A0{i + 1}", truth) for i in range(REPLICATES)]
    quantified = _run(wells, f"{lot}_ddpcr_vcn", out_dir, "quantasoft", ("transgene", "RPP30"), sample)
    target = merge_wells([w for w in quantified if w.channel == 1])
    reference = merge_wells([w for w in quantified if w.channel == 2])
    result = apps.vector_copy_number(target, reference)[0]
    return result.to_measurement(
        note=f"ddPCR transgene vs RPP30, {REPLICATES} wells ({modality} demo, simulated)"
    )


def _aav(lot: str, out_dir: Path, seed: int) -> list[Measurement]:
    rng = _rng(seed, lot, "aav")
    titer = float(rng.uniform(1.6e13, 2.4e13))
    intact = float(rng.uniform(0.75, 0.85))
    v_ul = 0.85e-3
    # λ of genomes carrying amplicon A (ITR-proximal, ch1) that gives the chosen titer
    lam_a = titer / 1000.0 / (AAV_REACTION_UL / AAV_TEMPLATE_UL) / AAV_DILUTION * v_ul
    # A is on intact genomes and on the A-only share (0.4) of broken ones: λA = λg (i + 0.4 (1 − i))
    lam_genomes = lam_a / (intact + 0.4 * (1 - intact))
    wells = [sim.aav_linkage_well(rng, f"B0{i + 1}", lam_genomes, intact) for i in range(REPLICATES)]
    sample = f"{lot} drug substance"
    quantified = _run(wells, f"{lot}_ddpcr_aav", out_dir, "qx_manager", ("ITR", "polyA"), sample)
    ch1 = [w for w in quantified if w.channel == 1]
    vg = apps.vg_titer(
        merge_wells(ch1),
        reaction_volume_ul=AAV_REACTION_UL,
        template_volume_ul=AAV_TEMPLATE_UL,
        dilution=AAV_DILUTION,
    )
    counts = [w.clusters for w in ch1 if w.clusters is not None]
    pooled = ClusterCounts(
        sum(c.nn for c in counts),
        sum(c.pn for c in counts),
        sum(c.np_ for c in counts),
        sum(c.pp for c in counts),
    )
    inputs = [i for w in ch1 for i in w.provenance.inputs]
    integrity = apps.genome_integrity(pooled, provenance_inputs=inputs, sample=sample)
    integrity.checks = [c for w in ch1 for c in w.checks] + integrity.checks
    return [
        vg.to_measurement(note="ddPCR ITR assay, simulated"),
        integrity.to_measurement(note="duplex ddPCR linkage ITR-polyA, simulated"),
    ]


def _plasmid(lot: str, out_dir: Path, seed: int) -> Measurement:
    rng = _rng(seed, lot, "plasmid")
    ng_per_ml = float(rng.uniform(2.0, 8.0))
    copies_per_ul_sample = ng_per_ml / 1000.0 / apps.copy_mass_pg(length_bp=PLASMID_BP) * 1000.0
    reaction = copies_per_ul_sample / PLASMID_DILUTION * PLASMID_TEMPLATE_UL / 20.0
    wells = [
        sim.simulate_well(rng, f"C0{i + 1}", lambda_a_only=reaction * 0.85e-3) for i in range(REPLICATES)
    ]
    sample = f"{lot} vector"
    quantified = _run(wells, f"{lot}_ddpcr_plasmid", out_dir, "quantasoft", ("KanR", "ch2"), sample)
    merged = merge_wells([w for w in quantified if w.channel == 1])
    res = apps.residual_dna(
        merged, length_bp=PLASMID_BP, template_volume_ul=PLASMID_TEMPLATE_UL, dilution=PLASMID_DILUTION
    )
    return res.to_measurement(note="ddPCR plasmid backbone (KanR), simulated")
