"""Demo measurements from simulated qPCR runs: mycoplasma NAT for every modality, TERT mRNA and the
adventitious-virus panel for MSC, residual host-cell DNA for lentiviral vector lots.

Each run is written as an instrument file (QuantStudio CSV, Bio-Rad CFX CSV or QuantStudio XLSX) in
``out_dir``, read back by the project's readers and evaluated by the qPCR engines, so the certificate's
provenance carries the generated files' SHA-256.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from cgtqc.assays.qpcr import nat as qpcr_nat
from cgtqc.assays.qpcr import sim as qpcr_sim
from cgtqc.assays.qpcr.cq_tables import read_cq_table
from cgtqc.results import Measurement, file_input

MODALITIES = ("car_t", "lv_hsc", "crispr_hsc", "aav", "lv_vector", "msc")
MYCOPLASMA_LOD_CFU_PER_ML = 10.0
# lentiviral vector dose: 5 mL of vector, DNA from 200 µL extracted into 100 µL (dilution 0.5), 10 µL template
LV_DOSE_ML, LV_TEMPLATE_UL, LV_DILUTION = 5.0, 10.0, 0.5


def _seed(seed: int, lot_number: str, what: str) -> int:
    return seed * 1_000_003 + zlib.crc32(f"{lot_number}/{what}".encode())


def measurements(modality: str, lot_number: str, out_dir: Path, seed: int) -> list[Measurement]:
    """qPCR CQAs of one demo lot, computed from generated instrument files."""
    if modality not in MODALITIES:
        return []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = f"{lot_number} final product"
    seed = _seed(seed, lot_number, modality)
    out = [_mycoplasma(sample, lot_number, out_dir, seed)]
    if modality == "msc":
        out += [_tert(sample, lot_number, out_dir, seed), _virus(sample, lot_number, out_dir, seed)]
    if modality == "lv_vector":
        out.append(_host_dna(sample, lot_number, out_dir, seed))
    return out


def _mycoplasma(sample: str, lot: str, out_dir: Path, seed: int) -> Measurement:
    wells = qpcr_sim.plate(qpcr_sim.mycoplasma_layout(sample), rng=_seed(seed, lot, "mycoplasma"))
    path = qpcr_sim.write_quantstudio_csv(out_dir / f"{lot}_mycoplasma_nat.csv", wells)
    return qpcr_nat.mycoplasma_nat(
        read_cq_table(path), sample, lod=MYCOPLASMA_LOD_CFU_PER_ML, inputs=[file_input(path)]
    )


def _tert(sample: str, lot: str, out_dir: Path, seed: int) -> Measurement:
    wells = qpcr_sim.plate(
        qpcr_sim.tert_layout(sample), efficiency={"GAPDH": 1.97}, rng=_seed(seed, lot, "tert")
    )
    path = qpcr_sim.write_cfx_csv(out_dir / f"{lot}_tert_rtqpcr.csv", wells)
    return qpcr_nat.tert_mrna(read_cq_table(path), sample, inputs=[file_input(path)])


def _virus(sample: str, lot: str, out_dir: Path, seed: int) -> Measurement:
    lods = qpcr_nat.VIRUS_PANEL_LOD
    layout = qpcr_sim.virus_panel_layout(sample, list(lods), lods)
    wells = qpcr_sim.plate(layout, rng=_seed(seed, lot, "virus"))
    path = qpcr_sim.write_quantstudio_xlsx(out_dir / f"{lot}_adventitious_virus_panel.xlsx", wells)
    return qpcr_nat.adventitious_virus_panel(
        read_cq_table(path), sample, lods=lods, inputs=[file_input(path)]
    )


def _host_dna(sample: str, lot: str, out_dir: Path, seed: int) -> Measurement:
    layout = qpcr_sim.host_dna_layout(sample, pg_per_reaction=1.5)
    wells = qpcr_sim.plate(layout, efficiency={"hostDNA": 1.93}, rng=_seed(seed, lot, "hostdna"))
    path = qpcr_sim.write_quantstudio_csv(out_dir / f"{lot}_residual_host_dna.csv", wells)
    return qpcr_nat.residual_host_dna(
        read_cq_table(path),
        sample,
        "hostDNA",
        template_ul=LV_TEMPLATE_UL,
        dose_volume_ml=LV_DOSE_ML,
        dilution=LV_DILUTION,
        spiked_sample=f"{sample} + spike",
        spike_pg=30.0,
        inputs=[file_input(path)],
    )
