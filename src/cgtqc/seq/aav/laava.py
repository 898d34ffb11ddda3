"""LAAVA's per-read type and subtype, reproduced from its published rules so users can compare one to one.

Rules (formbio/laava summarize_alignment): only primary and supplementary alignments count. Each
alignment to the vector is placed against the target region (first ITR start to last ITR end): 'full'
when it starts and ends within 100 bp of the target ends, 'left-partial' / 'right-partial' / 'partial'
when short of one or both ends, 'backbone' outside, 'vector+backbone' across. A supplementary companion
is the first opposite-strand supplementary whose union with the primary spans >= 0.8 of the read, else
the first same-strand one. Reads whose primary and supplementaries hit different labels are
chimeric-vector / chimeric-nonvector. Type and subtype then follow from the vector type (ss/sc), the
companion's orientation, and (sc) whether the mutant ITR is the first ITR row of the BED file.
Non-vector and unmapped reads get type and subtype 'NA' (LAAVA leaves them unassigned).
"""

from __future__ import annotations

from dataclasses import dataclass

from cgtqc.seq.align import Hit

MAX_MISSING_FLANK = 100
MAX_OUTSIDE_VECTOR = 100
MIN_PRIM_SUPP_COV = 0.8


@dataclass(frozen=True)
class LaavaSetup:
    """What LAAVA knows: target region (0-based start, end), vector type, mutant ITR first in the BED."""

    target_start: int
    target_end: int
    vector_type: str
    mitr_first: bool | None


def target_overlap(h: Hit, s: int, e: int) -> str:
    """LAAVA's alignment subtype against the target region [s, e)."""
    left_long = h.rs < s - MAX_OUTSIDE_VECTOR
    left_short = s + MAX_MISSING_FLANK < h.rs
    right_short = h.re < e - MAX_MISSING_FLANK
    right_long = e + MAX_OUTSIDE_VECTOR < h.re
    left_ok, right_ok = not (left_short or left_long), not (right_short or right_long)
    if left_ok:
        if right_ok:
            return "full"
        return "left-partial" if right_short else "vector+backbone"
    if h.re < s or h.rs > e:
        return "backbone"
    if left_short:
        if right_ok:
            return "right-partial"
        if right_short:
            return "partial"
    return "vector+backbone"


def _companion(prim: Hit, supps: list[Hit], read_len: int) -> tuple[Hit | None, str | None]:
    for want_opposite, name in ((True, "+/-"), (False, "+/+")):
        for s in supps:
            if (s.strand != prim.strand) == want_opposite:
                span = max(prim.qe, s.qe) - min(prim.qs, s.qs)
                if span >= read_len * MIN_PRIM_SUPP_COV:
                    return s, name
    return None, None


def laava_call(
    hits: list[Hit], read_len: int, labels: dict[str, str], setup: LaavaSetup
) -> tuple[str, str, str]:
    """(assigned_type, assigned_subtype, reference_label) as LAAVA would report them."""
    prim = next((h for h in hits if h.kind == "P"), None)
    if prim is None:
        return "NA", "NA", "(unmapped)"
    supps = [h for h in hits if h.kind == "S"]
    supp, orient = _companion(prim, supps, read_len) if supps else (None, None)
    plab = labels.get(prim.ref, "unknown")
    others = {labels.get(s.ref, "unknown") for s in supps} - {plab}
    if not others:
        ref_label = plab
    else:
        ref_label = "chimeric-vector" if "vector" in others | {plab} else "chimeric-nonvector"
    if ref_label != "vector":
        return "NA", "NA", ref_label

    def ov(h: Hit) -> str:
        return target_overlap(h, setup.target_start, setup.target_end)

    overlap = ov(prim) if supp is None or ov(supp) == ov(prim) else f"{ov(prim)}|{ov(supp)}"
    if overlap == "backbone":
        return "backbone", "backbone", ref_label
    if supp is None and supps:
        return "other-vector", "complex", ref_label
    if orient == "+/+":
        return "other-vector", "tandem", ref_label
    if setup.vector_type == "ss":
        return (*_ss(overlap, supp is None), ref_label)
    return (*_sc(overlap, orient, setup.mitr_first), ref_label)


def _ss(overlap: str, single: bool) -> tuple[str, str]:
    if single:
        if overlap in ("full", "left-partial", "right-partial", "partial"):
            return "ssAAV", overlap
        return "ssAAV", "read-through" if overlap == "vector+backbone" else "unclassified"
    if overlap == "left-partial":
        return "ssAAV", "left-snapback"
    if overlap == "right-partial":
        return "ssAAV", "right-snapback"
    if overlap == "partial":
        return "other-vector", "snapback"
    if overlap == "full":
        return "other-vector", "unresolved-dimer"
    if "|" in overlap:
        return "other-vector", "complex"
    return "other-vector", "unclassified"


def _sc(overlap: str, orient: str | None, mitr_first: bool | None) -> tuple[str, str]:
    snap_side = "right-partial" if mitr_first else "left-partial"
    other_side = "left-partial" if mitr_first else "right-partial"
    if orient == "+/-":
        if overlap in ("full", "partial"):
            return "scAAV", overlap
        if overlap == snap_side:
            return "scAAV", "snapback"
        if overlap == other_side:
            return "other-vector", "unclassified"
        if overlap == "vector+backbone":
            return "scAAV", "read-through"
        return "other-vector", "complex"
    if overlap == snap_side:
        return "scAAV", "itr-partial"
    return "other-vector", "unclassified"
