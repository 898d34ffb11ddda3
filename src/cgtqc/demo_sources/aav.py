"""Demo AAV lot: the six long-read sequencing CQAs from a generated HiFi read set.

A realistic lot mix of reads (mostly full genomes, with truncations, snapbacks, backbone, helper, rep/cap,
host and a lambda spike-in) is simulated into ``out_dir`` with known truth, classified by the AAV engine,
and returned as Measurements whose provenance carries the generated files' SHA-256.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from cgtqc.results import Measurement
from cgtqc.seq.aav.construct import load_construct
from cgtqc.seq.aav.engine import classify_reads
from cgtqc.seq.aav.sim import simulate_aav
from cgtqc.seq.align import AlignParams, ReferenceSet

N_READS = 2000


def measurements(modality: str, lot_number: str, out_dir: Path, seed: int) -> list[Measurement]:
    """full_genome_pct, itr_intact_pct and the four residual-DNA CQAs for an AAV lot; [] otherwise."""
    if modality != "aav":
        return []
    out_dir = Path(out_dir) / f"aav_{lot_number}"
    lot_seed = seed * 1_000_003 + zlib.crc32(lot_number.encode()) % 1_000_000
    sim = simulate_aav(
        out_dir, n_reads=N_READS, vector_type="ss", error_model="hifi", seed=lot_seed, mix="lot"
    )
    construct = load_construct(sim.vector, sim.annotation, sim.flipflop)
    refs = ReferenceSet.from_files(sim.vector, sim.packaging, sim.host)
    result = classify_reads(
        sim.reads,
        construct,
        refs,
        vector_type="ss",
        sample=lot_number,
        align_params=AlignParams(preset="map-hifi"),
    )
    return result.measurements()
