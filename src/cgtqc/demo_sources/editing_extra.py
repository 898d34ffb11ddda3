"""Demo measurements for the CRISPR-edited HSC lot: off-target sites edited above background and the
large-deletion percentage, computed from generated files with known truth.

Off-targets: a random genome with the on-target and seven off-target sites planted is searched with
Cas-OFFinder rules (≤ 4 mismatches, 1-bp DNA/RNA bulges); one amplicon per locus is sequenced in a
pooled edited sample and its mock. The on-target is edited (60–75 %); the off-targets are not, but one
carries a background indel rate in both samples (a PCR artefact), which the mock comparison must not
call. The CQA counts off-target loci (the on-target excluded) edited above background.
Large deletions: long amplicon reads (7 kb, 1 % errors) with a true large-deletion fraction of 1–3 %.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from cgtqc.results import Measurement, Provenance, ValidityCheck
from cgtqc.seq.editing.largedel.engine import call_large_deletions
from cgtqc.seq.editing.largedel.sim import simulate_long_read_amplicons
from cgtqc.seq.editing.offtarget.engine import collapse_sites, nominate, read_fasta
from cgtqc.seq.editing.offtarget.sim import plant_genome, simulate_pooled_reads, true_rates
from cgtqc.seq.editing.offtarget.verify import amplicons_from_sites, verify_sites, write_amplicon_table

GUIDE = "GGCCGACCTGTCGCTGACGC"


def _seed(seed: int, lot: str, what: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(f"{lot}/{what}".encode())) % (2**32)


def measurements(modality: str, lot_number: str, out_dir: Path, seed: int) -> list[Measurement]:
    """Off-target and large-deletion CQAs of a crispr_hsc lot; [] for other modalities."""
    if modality != "crispr_hsc":
        return []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = f"{lot_number} final product"
    return [_offtargets(lot_number, out_dir / "offtargets", seed, sample),
            _large_deletions(lot_number, out_dir / "largedel", seed, sample)]


def _offtargets(lot: str, out_dir: Path, seed: int, sample: str) -> Measurement:
    s = _seed(seed, lot, "offtargets")
    rng = np.random.default_rng(s)
    fa, planted = plant_genome(out_dir, GUIDE, length=120_000, seed=s)
    nom = nominate(fa, GUIDE, "NGG", max_mismatches=4, max_dna_bulge=1, max_rna_bulge=1)
    loci = collapse_sites(nom.sites)
    amps = amplicons_from_sites(dict(read_fasta(fa)), loci, 3, flank=80)
    table = out_dir / "amplicons.tsv"
    write_amplicon_table(amps, table)
    rates = true_rates(planted, amps, {"on-target": float(rng.uniform(0.60, 0.75))})
    background = true_rates(planted, amps, {"OT3 3mm": 0.008})
    edited, mock = simulate_pooled_reads(out_dir, amps, rates, depth=600, background=background, seed=s + 1)
    res = verify_sites(edited, mock, amps, min_effect_pct=0.2, amplicon_file=table)
    on_target = {f"{x.chrom}:{x.location}:{x.strand}" for x in loci
                 if x.mismatches == 0 and x.bulge_type == "X"}
    off_called = [site for site in res.sites_above_background if site not in on_target]
    on_called = [site for site in res.sites_above_background if site in on_target]
    prov = Provenance(res.provenance.engine, res.provenance.engine_version,
                      {**res.provenance.parameters, "nomination": nom.provenance.parameters},
                      nom.provenance.inputs + res.provenance.inputs)
    checks = [*res.checks, ValidityCheck("on_target_edited", bool(on_called),
                                         "the on-target site (positive control) is edited above background")]
    return Measurement(
        cqa="offtarget_sites_above_background", value=float(len(off_called)), unit="sites", provenance=prov,
        checks=checks, sample=sample,
        note=f"{len(res.sites) - len(on_target)} nominated off-target loci verified by pooled amplicon "
             f"sequencing vs mock (simulated demo){': ' + ', '.join(off_called) if off_called else ''}",
    )


def _large_deletions(lot: str, out_dir: Path, seed: int, sample: str) -> Measurement:
    s = _seed(seed, lot, "largedel")
    rng = np.random.default_rng(s)
    truth = float(rng.uniform(0.01, 0.03))
    sim = simulate_long_read_amplicons(out_dir, n_reads=400, large_deletion_fraction=truth, error_rate=0.01,
                                       seed=s)
    res = call_large_deletions(sim.reads_fastq, sim.reference_fasta)
    ld = res.large_deletion
    return Measurement(
        cqa="large_deletion_pct", value=round(ld.pct, 4), unit="%", provenance=res.provenance,
        checks=res.checks, ci_low=ld.ci_low_pct, ci_high=ld.ci_high_pct, sample=sample,
        note=f"{ld.count}/{ld.total} spanning long reads with a deletion >= 50 bp (simulated demo)",
    )
