"""Demo hook: a CRISPR-edited HSC lot gets % edited alleles and % HDR from simulated amplicon reads.

Reads are generated with known truth (60% indel alleles, 15% HDR, 0.3% sequencing errors) by
:mod:`cgtqc.seq.editing.sim`, written as FASTQ and quantified with the CRISPResso2-exact engine.
"""

from __future__ import annotations

from pathlib import Path

from cgtqc.results import Measurement, ValidityCheck
from cgtqc.seq.editing.engine import quantify, wilson_interval, write_crispresso_files
from cgtqc.seq.editing.sim import simulate_reads

AMPLICON = (
    "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCG"
    "CTTTTCCGAGCTTCTGGCGGTCTCAAGCACTACCTACGTCAGCACCTGGGACCCCGCCACCGTGCGCCGGGCCTTGCAGTGGGCGCGCTACCTGCGCCACAT"
    "CCATCGGCGCTTTGGTCGG"
)
GUIDE = "GGAATCCCTTCTGCAGCACC"
CUT = AMPLICON.index(GUIDE) + len(GUIDE) - 4  # base 5' of the cut, 3 bp from the guide's 3' end
# donor: two substitutions 10 bp either side of the cut, far enough apart that few indel alleles
# erase both (reads that do align equally to both references are AMBIGUOUS, as in CRISPResso2)
_L, _R = CUT - 10, CUT + 11
HDR_DONOR = AMPLICON[:_L] + "T" + AMPLICON[_L + 1 : _R] + "A" + AMPLICON[_R + 1 :]


def measurements(modality: str, lot_number: str, out_dir: Path, seed: int) -> list[Measurement]:
    """% edited alleles and % HDR for the crispr_hsc modality; [] for the others."""
    if modality != "crispr_hsc":
        return []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = simulate_reads(
        AMPLICON,
        5000,
        cut_site=CUT,
        indel_fraction=0.60,
        n_indel_alleles=25,
        hdr_donor=HDR_DONOR,
        hdr_fraction=0.15,
        error_rate=0.003,
        seed=seed,
    )
    fastq = sample.write_fastq(out_dir / f"{lot_number}_amplicon.fastq.gz")[0]
    result = quantify(fastq, [AMPLICON], guides=[GUIDE], hdr_sequence=HDR_DONOR, sample=lot_number)
    write_crispresso_files(result, out_dir / f"{lot_number}_editing")
    edited, n = result.edited_alleles()
    hdr = result.reference("HDR").reads_aligned
    perfect_hdr = result.reference("HDR").unmodified  # the intended edit: donor sequence, nothing else
    checks = list(result.checks) + [ValidityCheck("min_reads_1000", n >= 1000, f"{n} reads assigned")]
    out = []
    for cqa, k in (("edited_alleles_pct", edited), ("hdr_pct", hdr), ("intended_edit_pct", perfect_hdr)):
        lo, hi = wilson_interval(k, n)
        out.append(
            Measurement(
                cqa=cqa,
                value=round(100 * k / n, 2) if n else None,
                unit="%",
                provenance=result.provenance,
                checks=checks,
                ci_low=round(lo, 2),
                ci_high=round(hi, 2),
                sample=lot_number,
                note=f"{k} of {n} assigned reads; {result.ambiguous} ambiguous reads excluded",
            )
        )
    return out
