"""Placement of a trimmed read pair on the host genome: alignment filters, proper pairs, multihits.

Both host parts are aligned on their own with minimap2 (mappy, short-read preset), keeping every reported
placement (primary and secondary), so that equally good loci are all seen. A placement passes the
BLAT-equivalent filters of INSPIIRED/intSiteCaller when its matching bases cover at least ``min_identity``
of the host part (identity and coverage at once) and it starts within ``max_junction_clip`` bases of the
read's host start (the junction on R2, the shear site on R1); the few clipped bases are extended along the
reference, so a sequencing error at the first host base does not move the site.

The site is the host base joined to the LTR's CA, with the strand of the R2 alignment (intSiteCaller's
convention): on ``+`` the alignment's first base, on ``-`` its last. A proper pair has R1 on the same
chromosome, on the opposite strand, downstream of the site in the R2 direction, and a fragment length
(site to shear site, inclusive) within ``min_fragment`` .. ``max_fragment``. Pairs are scored by
``2 x matches - alignment columns - clipped bases`` of both mates; the best-scoring proper pairs are the
pair's placement: one locus makes a unique site, several equally good (within ``score_tolerance``) make a
multihit, reported as the set of loci, never one picked at random.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

VECTOR_PREFIX = "vector::"  # the vector's contigs share the index with the genome under this prefix


@dataclass(frozen=True)
class PlacementFilters:
    """Alignment and pairing rules (defaults: INSPIIRED/intSiteCaller's)."""

    min_identity: float = 0.95
    max_junction_clip: int = 3
    min_fragment: int = 30
    max_fragment: int = 2500
    score_tolerance: int = 0


class Locus(NamedTuple):
    """One placement of a pair: 1-based site and shear position, fragment length."""

    chrom: str
    strand: str
    position: int
    shear: int
    length: int


class _Hit(NamedTuple):
    chrom: str
    strand: int
    start: int  # reference base of the read's host start (0-based, clipped bases extended)
    score: int


def _hits(aligner, seq: str, filters: PlacementFilters) -> tuple[list[_Hit], bool, bool]:
    """Passing placements of one host part, whether anything aligned, whether the best hit is vector."""
    n = len(seq)
    out: list[_Hit] = []
    best_any, vector = None, False
    clip_max, need = filters.max_junction_clip, filters.min_identity * n
    for h in aligner.map(seq):
        clipped = n - (h.q_en - h.q_st)
        score = 2 * h.mlen - h.blen - clipped
        if best_any is None or score > best_any:
            best_any, vector = score, h.ctg.startswith(VECTOR_PREFIX)
        if h.mlen < need:
            continue
        if h.q_st > clip_max:  # q_st/q_en are on the read as sequenced, whichever the strand
            continue
        start = h.r_st - h.q_st if h.strand > 0 else h.r_en - 1 + h.q_st
        out.append(_Hit(h.ctg, h.strand, start, score))
    return out, best_any is not None, vector


def place_pair(aligner, host2: str, host1: str, filters: PlacementFilters) -> tuple[str, list[Locus]]:
    """Category of a trimmed pair and its loci.

    Categories: ``unique``, ``multihit``, ``vector`` (either mate's best alignment is in the vector),
    ``unmapped`` (R2's host part aligns nowhere), ``filtered`` (R2 aligns, but not within the filters),
    ``unpaired`` (R1 has no passing alignment), ``chimera`` (both mates pass but form no proper pair).
    """
    h2, any2, vec2 = _hits(aligner, host2, filters)
    if not any2:
        return "unmapped", []
    h1, any1, vec1 = _hits(aligner, host1, filters)
    if vec2 or vec1:
        return "vector", []
    h2 = [h for h in h2 if not h.chrom.startswith(VECTOR_PREFIX)]
    if not h2:
        return "filtered", []
    h1 = [h for h in h1 if not h.chrom.startswith(VECTOR_PREFIX)]
    if not h1:
        return "unpaired", []
    lo, hi = filters.min_fragment, filters.max_fragment
    pairs: list[tuple[int, Locus]] = []
    for a in h2:
        for b in h1:
            if b.chrom != a.chrom or b.strand == a.strand:
                continue
            length = (b.start - a.start + 1) if a.strand > 0 else (a.start - b.start + 1)
            if lo <= length <= hi:
                locus = Locus(a.chrom, "+" if a.strand > 0 else "-", a.start + 1, b.start + 1, length)
                pairs.append((a.score + b.score, locus))
    if not pairs:
        return "chimera", []
    best = max(s for s, _ in pairs)
    loci: dict[tuple[str, str, int], Locus] = {}
    for s, locus in sorted(pairs, key=lambda p: (-p[0], p[1])):
        if s >= best - filters.score_tolerance:
            loci.setdefault(locus[:3], locus)
    found = sorted(loci.values())
    return ("unique" if len(found) == 1 else "multihit"), found
