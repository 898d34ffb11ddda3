"""The AAV construct: vector plasmid sequence, its two ITRs from the BED annotation, and ITR variants.

The genome is the stretch from the first ITR's start to the second ITR's end; the cassette lies between
the ITRs and the backbone outside. An ITR row is any BED row on the vector sequence whose label contains
"ITR"; a label starting with "m" or containing "mut" or "delta" marks a mutant ITR (self-complementary
design). For each ITR the two hairpin configurations (flip and flop) are built from the construct's own
ITR by inverting the B/C hairpin region (the B/B' and C/C' arms swap). The region is found by an exact
match of the flip or flop hairpin sequence (AAV2 by default, or the SEQ_LEFT_FLIP/SEQ_LEFT_FLOP records
of a flip/flop FASTA); when neither matches (ITRs of other serotypes, the common 11-bp-deleted C arm of
pAV-type plasmids) it is derived from the ITR's own structure: the longest inverted repeat with a loop
of >= 10 bases is the A/A' stem, and the sequence between its arms is the hairpin tip. The tip and its
inversion are then named flip or flop by which one aligns better to the reference flip ITR than to the
reference flop ITR.
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
# Whole AAV2 left ITR, flip configuration (GenBank AF043303), to name derived configurations.
AAV2_LEFT_FLIP_ITR = (
    "TTGGCCACTCCCTCTCTGCGCGCTCGCTCGCTCACTGAGGCCGGGCGACCAAAGGTCGCCCGACGCCCGGGCTTTGCCCGGGCGG"
    "CCTCAGTGAGCGAGCGAGCGCGCAGAGAGGGAGTGGCCAACTCCATCACTAGGGGTTCCT"
)
MIN_STEM, MIN_LOOP = 12, 10  # a derived A/A' stem and hairpin tip must be at least this long
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


def read_flipflop_itrs(path: Path) -> tuple[str, str]:
    """The whole left flip and flop ITRs (SEQ_LEFT_FLIP, SEQ_LEFT_FLOP) of a LAAVA-style FASTA."""
    read_flipflop_fasta(path)  # validates
    recs = dict(read_fasta(path))
    return recs["SEQ_LEFT_FLIP"], recs["SEQ_LEFT_FLOP"]


def hairpin_tip(seq: str) -> tuple[int, int] | None:
    """Span [a, b) of the hairpin tip of an ITR: the loop of its longest inverted repeat (the A/A' stem).

    Inverting any span whose flanks are reverse complements of each other gives the same sequence, so
    the exact stem end does not matter. None when no stem of MIN_STEM bases with a loop of MIN_LOOP
    bases exists.
    """
    comp = str.maketrans("ACGTacgt", "TGCAtgca")
    rc = seq.translate(comp)[::-1]
    n = len(seq)
    best = (0, 0, 0)  # (stem length, a, b)
    # the stem's outer bases are seq[i] and seq[j-1]; rc[n-j] is the complement of seq[j-1]
    for i in range(n):
        for j in range(n, i + 2 * MIN_STEM + MIN_LOOP - 1, -1):
            k = 0
            limit = (j - i - MIN_LOOP) // 2
            while k < limit and seq[i + k] == rc[n - j + k]:
                k += 1
            if k > best[0]:
                best = (k, i + k, j - k)
    return (best[1], best[2]) if best[0] >= MIN_STEM else None


def itr_variants(
    seq: str, left_side: bool, hairpin_left_flip: str, reference: tuple[str, str] | None = None
) -> tuple[tuple[str, str], ...]:
    """Flip and flop sequences of one ITR (plus strand); ('unknown', seq) when no hairpin is found.

    On the right ITR the plus strand reads the hairpin reverse-complemented, so the left-flip hairpin
    seen there means flop. ``reference`` = whole left (flip, flop) ITRs naming a derived tip (AAV2 default).
    """
    flip_mid = hairpin_left_flip if left_side else revcomp(hairpin_left_flip)
    flop_mid = revcomp(flip_mid)
    for found, name, other in ((flip_mid, "flip", "flop"), (flop_mid, "flop", "flip")):
        i = seq.find(found)
        if i >= 0:
            alt = seq[:i] + revcomp(found) + seq[i + len(found) :]
            return (name, seq), (other, alt)
    found = _local_hairpin(seq.upper(), flip_mid.upper(), flop_mid.upper())
    if found is not None:  # the reference tip with differences (e.g. the 11-bp-deleted C arm of pAV ITRs)
        (a, b), name = found
        other = "flop" if name == "flip" else "flip"
        return (name, seq), (other, seq[:a] + revcomp(seq[a:b]) + seq[b:])
    tip = hairpin_tip(seq.upper())
    if tip is None:
        return (("unknown", seq),)
    a, b = tip
    alt = seq[:a] + revcomp(seq[a:b]) + seq[b:]
    if alt.upper() == seq.upper():  # a palindromic tip: the two configurations are one sequence
        return (("unknown", seq),)
    return _name_configs(seq, alt, left_side, reference or (AAV2_LEFT_FLIP_ITR, _flop_of(AAV2_LEFT_FLIP_ITR)))


def _local(q: str, t: str) -> tuple[int, int, int]:
    """Smith-Waterman (match 2, mismatch -3, linear gap -3) of q in t: (score, t start, t end)."""
    n = len(t)
    prev = [0] * (n + 1)
    pstart = list(range(n + 1))
    best = (0, 0, 0)
    for a in q:
        cur, cstart = [0] * (n + 1), list(range(n + 1))
        for j in range(1, n + 1):
            opts = (
                (prev[j - 1] + (2 if a == t[j - 1] else -3), pstart[j - 1]),
                (prev[j] - 3, pstart[j]),
                (cur[j - 1] - 3, cstart[j - 1]),
            )
            v, st = max(opts)
            if v > 0:
                cur[j], cstart[j] = v, st
                if v > best[0]:
                    best = (v, st, j)
            else:
                cur[j], cstart[j] = 0, j
        prev, pstart = cur, cstart
    return best


def _local_hairpin(seq: str, flip_mid: str, flop_mid: str) -> tuple[tuple[int, int], str] | None:
    """Span and configuration of the reference tip found with differences (>= 60% of its full score)."""
    hits = [(_local(m, seq), name) for m, name in ((flip_mid, "flip"), (flop_mid, "flop"))]
    (score, a, b), name = max(hits)
    other = min(hits)[0][0]
    if score < 0.6 * 2 * len(flip_mid) or score - other < 6:
        return None
    return _stem_bounded(seq, a, b), name


def _stem_bounded(seq: str, a: int, b: int, shift: int = 4, cap: int = 12) -> tuple[int, int]:
    """The span near [a, b) whose flanks pair best as a stem (a local alignment may shift a tip edge)."""
    pair = {("A", "T"), ("T", "A"), ("C", "G"), ("G", "C")}

    def stem(x: int, y: int) -> int:
        k = 0
        while k < cap and x - 1 - k >= 0 and y + k < len(seq) and (seq[x - 1 - k], seq[y + k]) in pair:
            k += 1
        return k

    spans = [(a + i, b + j) for i in range(-shift, shift + 1) for j in range(-shift, shift + 1)]
    return max(spans, key=lambda s: (stem(*s), -abs(s[0] - a) - abs(s[1] - b)))


def _flop_of(left_flip_itr: str) -> str:
    i = left_flip_itr.find(AAV2_LEFT_FLIP_HAIRPIN)
    n = len(AAV2_LEFT_FLIP_HAIRPIN)
    return left_flip_itr[:i] + revcomp(AAV2_LEFT_FLIP_HAIRPIN) + left_flip_itr[i + n :]


def _name_configs(
    seq: str, alt: str, left_side: bool, reference: tuple[str, str]
) -> tuple[tuple[str, str], ...]:
    """(name, sequence) of the construct's ITR and its inversion: flip is the one closer to the reference
    flip ITR relative to the reference flop ITR (scores of a semi-global alignment, left-ITR frame)."""
    from cgtqc.seq.aav.itr import GAP_EXTEND, GAP_OPEN, MATCH, MISMATCH, encode, semiglobal

    def lean(x: str) -> int:  # > 0: more flip-like
        q = encode(x if left_side else revcomp(x))
        pad = "N" * 40
        flip = semiglobal(q, encode(pad + reference[0] + pad), MATCH, MISMATCH, GAP_OPEN, GAP_EXTEND)[0]
        flop = semiglobal(q, encode(pad + reference[1] + pad), MATCH, MISMATCH, GAP_OPEN, GAP_EXTEND)[0]
        return int(flip) - int(flop)

    d = lean(seq) - lean(alt)
    if d == 0:
        return ("config1", seq), ("config2", alt)
    return (("flip", seq), ("flop", alt)) if d > 0 else (("flop", seq), ("flip", alt))


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
    reference = read_flipflop_itrs(flipflop_fasta) if flipflop_fasta else None
    itrs = []
    for k, (label, s, e) in enumerate(itr_rows):
        variants = itr_variants(seq[s:e], left_side=(k == 0), hairpin_left_flip=hairpin, reference=reference)
        itrs.append(Itr(label, s, e, bool(_MUTANT.search(label)), variants))
    if itrs[0].end > itrs[1].start:
        raise InputError("the two ITR rows overlap", file=annotation_bed)
    files = [Path(vector_fasta), Path(annotation_bed)] + ([Path(flipflop_fasta)] if flipflop_fasta else [])
    return AavConstruct(name, seq, itrs[0], itrs[1], rows, files)
