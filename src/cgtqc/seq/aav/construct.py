"""The AAV construct: vector plasmid sequence, its two ITRs from the BED annotation, and ITR variants.

The genome is the stretch from the first ITR's start to the second ITR's end; the cassette lies between
the ITRs and the backbone outside. An ITR row is any BED row on the vector sequence whose label contains
"ITR"; a label starting with "m" or containing "mut" or "delta" marks a mutant ITR (self-complementary
design). For each ITR the two hairpin configurations (flip and flop) are built from the construct's own
ITR by inverting the B/C hairpin region, which is found by an exact match of the flip or flop hairpin
sequence (AAV2 by default, or the SEQ_LEFT_FLIP/SEQ_LEFT_FLOP... records of a flip/flop FASTA). The
two configurations are the hairpin inverted, so one sequence names both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cgtqc.errors import InputError
from cgtqc.seq.align import read_fasta
from cgtqc.seq.reads import revcomp

# AAV2 ITR B/C hairpin in the flip configuration as read on the left ITR (GenBank AF043303 region).
AAV2_LEFT_FLIP_HAIRPIN = "GGCGACCAAAGGTCGCCCGACGCCCGGGCTTTGCCCGGG"
SC_MAX_CASSETTE_BP = 2300  # LAAVA's length rule for guessing scAAV from the annotation
_MUTANT = re.compile(r"^m|mut|delta|\u0394", re.IGNORECASE)


@dataclass(frozen=True)
class Itr:
    """One annotated ITR: BED label, 0-based half-open span, mutant flag, and its two configurations."""

    label: str
    start: int
    end: int
    mutant: bool
    variants: tuple[tuple[str, str], ...]  # (configuration name, sequence on the plasmid + strand)

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass
class AavConstruct:
    """Vector plasmid with its ITRs; coordinates are 0-based half-open on the plasmid sequence."""

    name: str
    seq: str
    itr1: Itr
    itr2: Itr
    features: list[tuple[str, int, int]] = field(default_factory=list)
    source_files: list[Path] = field(default_factory=list)

    @property
    def length(self) -> int:
        return len(self.seq)

    @property
    def genome(self) -> tuple[int, int]:
        return self.itr1.start, self.itr2.end

    @property
    def genome_length(self) -> int:
        return self.itr2.end - self.itr1.start

    @property
    def has_mutant_itr(self) -> bool:
        return self.itr1.mutant or self.itr2.mutant

    def guessed_vector_type(self) -> tuple[str, str]:
        """LAAVA-style guess from the design: (type, reason)."""
        if self.has_mutant_itr:
            return "sc", "a mutant ITR is annotated"
        if self.genome_length <= SC_MAX_CASSETTE_BP:
            return "sc", f"ITR-to-ITR length {self.genome_length} bp <= {SC_MAX_CASSETTE_BP} bp"
        return "ss", f"ITR-to-ITR length {self.genome_length} bp > {SC_MAX_CASSETTE_BP} bp, no mutant ITR"


def read_flipflop_fasta(path: Path) -> str:
    """The left-flip hairpin from a LAAVA-style flip/flop FASTA (SEQ_LEFT_FLIP and SEQ_LEFT_FLOP)."""
    recs = dict(read_fasta(path))
    try:
        flip, flop = recs["SEQ_LEFT_FLIP"], recs["SEQ_LEFT_FLOP"]
    except KeyError as exc:
        raise InputError(
            "flip/flop FASTA needs records SEQ_LEFT_FLIP and SEQ_LEFT_FLOP",
            file=path,
            place=f"record {exc.args[0]}",
        ) from exc
    if len(flip) != len(flop):
        raise InputError("SEQ_LEFT_FLIP and SEQ_LEFT_FLOP differ in length", file=path)
    diff = [i for i, (a, b) in enumerate(zip(flip, flop, strict=True)) if a != b]
    if not diff:
        raise InputError("SEQ_LEFT_FLIP and SEQ_LEFT_FLOP are identical", file=path)
    return flip[diff[0] : diff[-1] + 1]


def itr_variants(seq: str, left_side: bool, hairpin_left_flip: str) -> tuple[tuple[str, str], ...]:
    """Flip and flop sequences of one ITR (plus strand); ('unknown', seq) when no hairpin matches.

    On the right ITR the plus strand reads the hairpin reverse-complemented, so the left-flip hairpin
    seen there means flop.
    """
    flip_mid = hairpin_left_flip if left_side else revcomp(hairpin_left_flip)
    flop_mid = revcomp(flip_mid)
    for found, name, other in ((flip_mid, "flip", "flop"), (flop_mid, "flop", "flip")):
        i = seq.find(found)
        if i >= 0:
            alt = seq[:i] + revcomp(found) + seq[i + len(found) :]
            return (name, seq), (other, alt)
    return (("unknown", seq),)


def read_annotation(path: Path, vector_name: str) -> list[tuple[str, int, int]]:
    """BED rows (label, start, end) on the vector sequence; InputError naming the line when malformed."""
    rows: list[tuple[str, int, int]] = []
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", file=p)
    with open(p) as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            parts = line.rstrip("\n\r").split("\t")
            if len(parts) < 4:
                raise InputError(
                    "BED row needs 4 tab-separated columns (chrom, start, end, name)",
                    file=p,
                    place=f"line {n}",
                )
            try:
                start, end = int(parts[1]), int(parts[2])
            except ValueError as exc:
                raise InputError("start/end are not integers", file=p, place=f"line {n}") from exc
            if start < 0 or end <= start:
                raise InputError(f"bad interval {start}-{end}", file=p, place=f"line {n}")
            if parts[0] == vector_name:
                rows.append((parts[3], start, end))
    return rows


def load_construct(
    vector_fasta: Path,
    annotation_bed: Path,
    flipflop_fasta: Path | None = None,
    vector_name: str | None = None,
) -> AavConstruct:
    """Read the vector plasmid and its BED annotation; exactly two ITR rows are required."""
    records = read_fasta(vector_fasta)
    if vector_name is None:
        name, seq = records[0]
    else:
        match = [r for r in records if r[0] == vector_name]
        if not match:
            raise InputError(f"vector sequence {vector_name!r} not in FASTA", file=vector_fasta)
        name, seq = match[0]
    rows = read_annotation(annotation_bed, name)
    if not rows:
        raise InputError(f"no BED rows on the vector sequence {name!r}", file=annotation_bed)
    for label, _s, end in rows:
        if end > len(seq):
            raise InputError(
                f"row {label!r} ends at {end}, beyond the vector length {len(seq)}", file=annotation_bed
            )
    itr_rows = sorted((r for r in rows if "itr" in r[0].lower()), key=lambda r: r[1])
    if len(itr_rows) != 2:
        raise InputError(
            f"expected exactly 2 ITR rows (label containing 'ITR'), found {len(itr_rows)}",
            file=annotation_bed,
        )
    hairpin = read_flipflop_fasta(flipflop_fasta) if flipflop_fasta else AAV2_LEFT_FLIP_HAIRPIN
    itrs = []
    for k, (label, s, e) in enumerate(itr_rows):
        variants = itr_variants(seq[s:e], left_side=(k == 0), hairpin_left_flip=hairpin)
        itrs.append(Itr(label, s, e, bool(_MUTANT.search(label)), variants))
    if itrs[0].end > itrs[1].start:
        raise InputError("the two ITR rows overlap", file=annotation_bed)
    files = [Path(vector_fasta), Path(annotation_bed)] + ([Path(flipflop_fasta)] if flipflop_fasta else [])
    return AavConstruct(name, seq, itrs[0], itrs[1], rows, files)
