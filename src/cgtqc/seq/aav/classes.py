"""The AAV read classes (a stable taxonomy: these identifiers are part of the interface) and parameters."""

from __future__ import annotations

from dataclasses import asdict, dataclass

CLASSES = (
    "full",
    "full_itr_defect",
    "truncated_5p",
    "truncated_3p",
    "internal_deletion",
    "snapback_symmetric",
    "snapback_asymmetric",
    "dimer",
    "sc_full",
    "sc_partial",
    "sc_monomer",
    "itr_only",
    "itr_concatemer",
    "read_through",
    "reverse_packaging",
    "backbone",
    "helper",
    "repcap",
    "host",
    "lambda",
    "chimeric",
    "unmapped",
)
CONTAMINANT_CLASSES = ("backbone", "helper", "repcap", "host", "lambda")
FULL_CLASSES = ("full", "sc_full")
# Reads carrying both genome ends (their terminal ITRs can all be judged).
BOTH_ENDS_CLASSES = ("full", "full_itr_defect", "sc_full", "sc_monomer", "internal_deletion", "dimer")

DESCRIPTIONS = {
    "full": "ITR-to-ITR genome, both terminal ITRs intact, no large deletion",
    "full_itr_defect": "ITR-to-ITR genome with a deleted, truncated or unreadable terminal ITR",
    "truncated_5p": "genome lacking its 5' (first-ITR) end; also reads lacking both ends (sc: unfolded)",
    "truncated_3p": "genome with its 5' ITR but lacking the 3' (second-ITR) end (sc: unfolded)",
    "internal_deletion": "both genome ends present, internal deletion >= min_deletion bp (GDM)",
    "snapback_symmetric": "fold-back molecule whose two arms end at the same place",
    "snapback_asymmetric": "fold-back molecule whose two arms differ in length",
    "dimer": "two or more genome units in one read (unresolved dimer, tandem)",
    "sc_full": "self-complementary genome: both arms complete, folded at an ITR",
    "sc_partial": "self-complementary genome folded at the mutant ITR with one or both arms truncated",
    "sc_monomer": "sc vector: unfolded single-strand monomer, wtITR-cassette-mITR (half the sc genome)",
    "itr_only": "a single ITR copy, no cassette",
    "itr_concatemer": "two or more ITR copies, no cassette",
    "read_through": "genome sequence continuing past an ITR into plasmid backbone",
    "reverse_packaging": "plasmid backbone packaged from an ITR (ITR + backbone, no cassette)",
    "backbone": "vector plasmid backbone only",
    "helper": "helper plasmid only",
    "repcap": "rep/cap plasmid only",
    "host": "host genome only",
    "lambda": "lambda spike-in only",
    "chimeric": "segments from two or more sources (partner and junctions reported)",
    "unmapped": "no alignment",
}


@dataclass(frozen=True)
class AavParams:
    """Classification rules as named parameters (defaults documented in the README)."""

    min_segment: int = 40  # ignore alignments shorter than this (read bases)
    itr_overlap: int = 20  # an arm reaches an ITR when it overlaps it by this many bases
    itr_token_slack: int = 20  # an alignment within an ITR +/- this is an ambiguous ITR token
    cassette_min: int = 50  # bases of cassette that make a genome arm
    backbone_min: int = 50  # bases of backbone that count as backbone
    min_deletion: int = 150  # reference gap that makes an internal deletion
    fold_itr_slack: int = 60  # a fold within this of an ITR is a fold at the ITR
    symmetric_bp: int = 50  # snapback arms differing by at most max(this, symmetric_frac * arm) are symmetric
    symmetric_frac: float = 0.05
    unaligned_min: int = 200  # an unaligned stretch this long makes a chimera with 'unaligned'
    itr_defect_bp: int = 10  # ITR deletion/insertion run (or missing end) that makes a defect
    flipflop_margin: int = 12  # score margin needed to call flip or flop
    itr_pad: int = 25  # read bases around the expected ITR in the window aligned to it
    concatemer_factor: float = 1.5  # ITR-only reads longer than this many ITRs are concatemers

    def to_dict(self) -> dict:
        return asdict(self)
