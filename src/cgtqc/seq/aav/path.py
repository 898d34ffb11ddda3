"""Classify one read from its whole alignment path (primary + supplementary + secondary + rescued hits).

Steps: (1) label each hit by its reference (vector, repcap, helper, lambda, host); a near-best secondary
with a higher-priority label replaces its primary (plasmid backbones are shared between plasmids);
(2) keep a non-overlapping set of segments along the read; (3) a vector segment lying inside either ITR
is an ambiguous ITR token (the two ITRs are inverted repeats, so which ITR and which strand are not
decidable), the other vector segments are chained into arms (same strand, collinear; a reference gap is a
deletion; a jump across the plasmid origin is a wrap); (4) the arms' shape gives the class: one genome
arm (full / truncated / deletion), two opposite arms (fold: sc, dimer, snapback), more (dimer), backbone
with or without cassette (read-through, reverse packaging, backbone), ITR tokens only (ITR-only,
concatemer). Terminal ITRs are aligned to their flip and flop forms (aav_itr) for integrity and
configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cgtqc.seq.aav.classes import AavParams
from cgtqc.seq.aav.construct import AavConstruct, Itr
from cgtqc.seq.aav.itr import ItrCall, call_itr, itr_window
from cgtqc.seq.align import LABEL_PRIORITY, Hit, uncovered
from cgtqc.seq.reads import revcomp


@dataclass
class Segment:
    hit: Hit
    label: str

    @property
    def qlen(self) -> int:
        return self.hit.qe - self.hit.qs


@dataclass
class Arm:
    """Collinear vector segments on one strand, in read order."""

    strand: int
    segs: list[Segment] = field(default_factory=list)
    deletions: list[tuple[int, int]] = field(default_factory=list)
    wrapped: bool = False
    reach_left: bool = False  # reaches ITR1 (the genome's 5' end)
    reach_right: bool = False  # reaches ITR2 (3' end)
    cassette_bp: int = 0
    backbone_bp: int = 0
    itr_bp: int = 0
    token_lo: bool = False  # an ITR token extends the arm's low end to ITR1
    token_hi: bool = False  # ... or its high end to ITR2

    @property
    def lo(self) -> int:
        return min(s.hit.rs for s in self.segs)

    @property
    def hi(self) -> int:
        return max(s.hit.re for s in self.segs)

    @property
    def qs(self) -> int:
        return self.segs[0].hit.qs

    @property
    def qe(self) -> int:
        return self.segs[-1].hit.qe

    def describe(self) -> str:
        s = "+" if self.strand > 0 else "-"
        parts = [f"{x.hit.rs}-{x.hit.re}" for x in self.segs]
        return f"vector{s}:" + ",".join(parts) + f"[q{self.qs}-{self.qe}]"


@dataclass
class ReadCall:
    """Everything known about one read."""

    read_id: str
    length: int
    cls: str
    detail: str = ""
    path: str = ""
    itr_calls: list[ItrCall] = field(default_factory=list)
    left_config: str = ""
    right_config: str = ""
    left_margin: int | None = None
    right_margin: int | None = None
    itr_intact: bool | None = None
    breakpoints: list[tuple[str, int]] = field(default_factory=list)  # (truncation|fold|deletion, position)
    partner: str = ""
    junctions: str = ""
    fold_at_itr: bool = False
    n_genome_arms: int = 0
    bases_by_label: dict[str, int] = field(default_factory=dict)
    vector_spans: list[tuple[int, int]] = field(default_factory=list)
    laava_type: str = "NA"
    laava_subtype: str = "NA"
    laava_label: str = "NA"

    def row(self) -> dict:
        """Flat per-read record for the TSV/Parquet tables."""
        return {
            "read_id": self.read_id,
            "class": self.cls,
            "laava_type": self.laava_type,
            "laava_subtype": self.laava_subtype,
            "laava_reference_label": self.laava_label,
            "length": self.length,
            "detail": self.detail,
            "path": self.path,
            "itr_left_config": self.left_config,
            "itr_left_margin": self.left_margin,
            "itr_right_config": self.right_config,
            "itr_right_margin": self.right_margin,
            "itr_intact": self.itr_intact,
            "itr_calls": ";".join(c.short() for c in self.itr_calls),
            "breakpoints": ",".join(f"{k}:{v}" for k, v in self.breakpoints),
            "partner": self.partner,
            "junctions": self.junctions,
        }


def resolve_labels(hits: list[Hit], labels: dict[str, str], ratio: float = 0.95) -> list[Segment]:
    """Primary/supplementary/rescued hits as labelled segments; a near-best secondary of a
    higher-priority label over the same read stretch replaces the hit (vector > repcap > helper > ...)."""
    main = [h for h in hits if h.kind != "2"]
    secs = [h for h in hits if h.kind == "2"]
    out = []
    for h in main:
        best, lab = h, labels.get(h.ref, "unknown")
        for s in secs:
            ov = min(h.qe, s.qe) - max(h.qs, s.qs)
            slab = labels.get(s.ref, "unknown")
            if (
                ov >= 0.8 * (h.qe - h.qs)
                and s.mlen >= ratio * h.mlen
                and LABEL_PRIORITY.get(slab, 9) < LABEL_PRIORITY.get(lab, 9)
            ):
                best, lab = s, slab
        out.append(Segment(best, lab))
    return out


def select_segments(segs: list[Segment], min_len: int) -> list[Segment]:
    """Best-first non-redundant segments (each overlaps the kept ones by < half its length), in read order."""
    kept: list[Segment] = []
    for s in sorted(segs, key=lambda x: -x.hit.mlen):
        if s.qlen < min_len:
            continue
        ov = sum(max(0, min(s.hit.qe, k.hit.qe) - max(s.hit.qs, k.hit.qs)) for k in kept)
        if ov < 0.5 * s.qlen:
            kept.append(s)
    return sorted(kept, key=lambda x: x.hit.qs)


def _overlap(a: int, b: int, c: int, d: int) -> int:
    return max(0, min(b, d) - max(a, c))


def _is_itr_token(h: Hit, c: AavConstruct, slack: int) -> Itr | None:
    for itr in (c.itr1, c.itr2):
        if h.rs >= itr.start - slack and h.re <= itr.end + slack:
            return itr
    return None


def _continues(arm: Arm, h: Hit, length: int, tol: int = 100) -> tuple[bool, int, bool]:
    """Whether ``h`` continues ``arm`` collinearly: (continues, reference gap, wraps the origin)."""
    last = arm.segs[-1].hit
    if h.strand != arm.strand or h.qs < last.qe - tol:
        return False, 0, False
    if arm.strand > 0:
        if h.rs >= last.re - tol:
            return True, h.rs - last.re, False
        if last.re >= length - 50 and h.rs <= 50:
            return True, 0, True
    else:
        if h.re <= last.rs + tol:
            return True, last.rs - h.re, False
        if last.rs <= 50 and h.re >= length - 50:
            return True, 0, True
    return False, 0, False


def build_arms(segs: list[Segment], c: AavConstruct, p: AavParams) -> tuple[list[Arm], list[tuple[int, Itr]]]:
    """Chain vector segments into arms; ITR-only segments become tokens (read position, ITR)."""
    arms: list[Arm] = []
    tokens: list[tuple[int, Itr]] = []
    order: list[object] = []
    for s in segs:
        itr = _is_itr_token(s.hit, c, p.itr_token_slack)
        if itr is not None:
            tokens.append((s.hit.qs, itr))
            order.append(itr)
            continue
        if arms and order and order[-1] is arms[-1]:
            ok, gap, wrap = _continues(arms[-1], s.hit, c.length)
            if ok:
                arm = arms[-1]
                if gap >= p.min_deletion:
                    last = arm.segs[-1].hit
                    arm.deletions.append((last.re, gap) if arm.strand > 0 else (s.hit.re, gap))
                arm.wrapped |= wrap
                arm.segs.append(s)
                continue
        arm = Arm(s.hit.strand, [s])
        arms.append(arm)
        order.append(arm)
    s1, e1, s2, e2 = c.itr1.start, c.itr1.end, c.itr2.start, c.itr2.end
    for arm in arms:
        for s in arm.segs:
            h = s.hit
            arm.deletions.extend((pos, n) for pos, n in h.dels if n >= p.min_deletion)
            arm.cassette_bp += _overlap(h.rs, h.re, e1, s2)
            arm.backbone_bp += _overlap(h.rs, h.re, 0, s1) + _overlap(h.rs, h.re, e2, c.length)
            arm.itr_bp += _overlap(h.rs, h.re, s1, e1) + _overlap(h.rs, h.re, s2, e2)
            arm.reach_left |= _overlap(h.rs, h.re, s1, e1) >= p.itr_overlap
            arm.reach_right |= _overlap(h.rs, h.re, s2, e2) >= p.itr_overlap
    # ITR tokens next to an arm's end extend it when that end sits at the cassette edge.
    for i, item in enumerate(order):
        if isinstance(item, Arm):
            continue
        for j in (i - 1, i + 1):
            if 0 <= j < len(order) and isinstance(order[j], Arm):
                arm = order[j]
                low_end = (j > i) == (arm.strand > 0)  # token before a + arm touches its low end
                if low_end and arm.lo <= e1 + 100:
                    arm.reach_left = arm.token_lo = True
                if not low_end and arm.hi >= s2 - 100:
                    arm.reach_right = arm.token_hi = True
    return arms, tokens


def _terminal_itr_calls(
    read_seq: str, arm: Arm, ends: tuple[str, ...], c: AavConstruct, p: AavParams
) -> dict[str, ItrCall]:
    """Align the read stretch at each requested arm end ('left'=ITR1, 'right'=ITR2) to that ITR."""
    out = {}
    first, last = arm.segs[0].hit, arm.segs[-1].hit
    for end in ends:
        itr = c.itr1 if end == "left" else c.itr2
        if arm.strand > 0:
            seg = first if end == "left" else last
            q = seg.qs - (seg.rs - itr.start) if end == "left" else seg.qe + (itr.end - seg.re) - itr.length
        else:
            seg = last if end == "left" else first
            q = seg.qe + (seg.rs - itr.start) - itr.length if end == "left" else seg.qs - (itr.end - seg.re)
        win = itr_window(read_seq, q, itr, arm.strand, p.itr_pad)
        if len(win) >= 20:
            out[end] = call_itr(win, itr, p.flipflop_margin, p.itr_defect_bp)
    return out


def _span(a: Arm, c: AavConstruct) -> tuple[int, int]:
    """Arm span including ITR tokens attached to its ends."""
    return (min(a.lo, c.itr1.start) if a.token_lo else a.lo), (max(a.hi, c.itr2.end) if a.token_hi else a.hi)


def _symmetric(a: Arm, b: Arm, fold_high: bool, c: AavConstruct, p: AavParams) -> bool:
    """Arms end at the same place (their ends away from the fold agree within tolerance)."""
    (alo, ahi), (blo, bhi) = _span(a, c), _span(b, c)
    far_a, far_b = (alo, blo) if fold_high else (ahi, bhi)
    return abs(far_a - far_b) <= max(p.symmetric_bp, p.symmetric_frac * max(a.hi - a.lo, b.hi - b.lo))


def classify_vector(
    call: ReadCall, read_seq: str, segs: list[Segment], c: AavConstruct, vector_type: str, p: AavParams
) -> None:
    """Fill class, detail, ITR calls and breakpoints of a vector-only read."""
    arms, tokens = build_arms(segs, c, p)
    call.path = " > ".join(a.describe() for a in arms) + (f" +{len(tokens)}ITR" if tokens else "")
    genome = [a for a in arms if a.cassette_bp >= p.cassette_min]
    backbone = any(a.backbone_bp >= p.backbone_min for a in arms)
    call.n_genome_arms = len(genome)
    itr_len = max(c.itr1.length, c.itr2.length)
    for a in arms:
        call.breakpoints.extend(("deletion", pos) for pos, _ in a.deletions)
    if not genome and not backbone:
        if tokens or any(a.itr_bp for a in arms):
            call.cls = (
                "itr_concatemer"
                if (len(tokens) >= 2 or call.length >= p.concatemer_factor * itr_len)
                else "itr_only"
            )
        else:
            call.cls, call.detail = "truncated_5p", "fragment_without_itr"
        return
    if not genome:
        near_itr = bool(tokens) or any(a.reach_left or a.reach_right for a in arms)
        call.cls = "reverse_packaging" if near_itr else "backbone"
        return
    if backbone:
        call.cls = "read_through"
        return
    if len(genome) >= 3 or (len(genome) == 2 and genome[0].strand == genome[1].strand):
        call.cls = "dimer"
        _set_itr_calls(call, read_seq, genome[0], genome[-1], c, p)
        return
    if len(genome) == 2:
        a, b = genome
        fold_high = a.strand > 0  # + then -: the fold is at the plasmid's high end
        turn = (a.hi + b.hi) / 2 if fold_high else (a.lo + b.lo) / 2
        call.breakpoints.append(("fold", int(turn)))
        at_itr = (
            turn >= c.itr2.start - p.fold_itr_slack if fold_high else turn <= c.itr1.end + p.fold_itr_slack
        )
        call.fold_at_itr = at_itr
        far_ok = (a.reach_left and b.reach_left) if fold_high else (a.reach_right and b.reach_right)
        if at_itr and far_ok:
            _set_itr_calls(call, read_seq, a, b, c, p, fold_high)
            if any(x.deletions for x in genome):
                call.cls = "internal_deletion"
            elif vector_type == "sc":
                call.cls = "sc_full" if call.itr_intact else "full_itr_defect"
            else:
                call.cls = "dimer"
            return
        if at_itr and vector_type == "sc":
            call.cls = "sc_partial"
        else:
            call.cls = "snapback_symmetric" if _symmetric(a, b, fold_high, c, p) else "snapback_asymmetric"
        call.detail = "fold_at_itr" if at_itr else "fold_in_cassette"
        return
    arm = genome[0]
    if arm.reach_left and arm.reach_right:
        _set_itr_calls(call, read_seq, arm, None, c, p)
        if arm.deletions:
            call.cls = "internal_deletion"
            call.detail = ",".join(f"del{pos}:{n}" for pos, n in arm.deletions)
        elif vector_type == "sc":  # one unfolded strand wtITR-cassette-mITR: half an sc genome, not full
            call.cls = "sc_monomer"
            call.detail = "" if call.itr_intact else "itr_defect"
        else:
            call.cls = "full" if call.itr_intact else "full_itr_defect"
        return
    if arm.reach_left:
        call.cls = "truncated_3p"
        call.breakpoints.append(("truncation", arm.hi))
    else:
        call.cls = "truncated_5p"
        call.breakpoints.append(("truncation", arm.lo))
        if not arm.reach_right:
            call.detail = "both_ends"
            call.breakpoints.append(("truncation", arm.hi))


def _set_itr_calls(
    call: ReadCall,
    read_seq: str,
    a: Arm,
    b: Arm | None,
    c: AavConstruct,
    p: AavParams,
    fold_high: bool = True,
) -> None:
    """Terminal ITR calls: one arm → both its ends; two folded arms → each arm's far end.

    Slots: ITR1 of a plus arm and a lone arm → left; ITR2 → right; of two folded arms the plus arm's
    terminal ITR takes the slot of its plasmid side and the minus arm's the other slot.
    """
    if b is None:
        calls = _terminal_itr_calls(read_seq, a, ("left", "right"), c, p)
        left, right = calls.get("left"), calls.get("right")
    else:
        end = "left" if fold_high else "right"
        plus, minus = (a, b) if a.strand > 0 else (b, a)
        cp = _terminal_itr_calls(read_seq, plus, (end,), c, p).get(end)
        cm = _terminal_itr_calls(read_seq, minus, (end,), c, p).get(end)
        left, right = (cp, cm) if end == "left" else (cm, cp)
    call.itr_calls = [x for x in (left, right) if x is not None]
    if left is not None:
        call.left_config, call.left_margin = left.config, left.margin
    if right is not None:
        call.right_config, call.right_margin = right.config, right.margin
    call.itr_intact = len(call.itr_calls) == 2 and not any(x.defect for x in call.itr_calls)


def _short_itr_read(call: ReadCall, read_seq: str, c: AavConstruct, p: AavParams) -> None:
    """Unaligned short reads: an ITR (either ITR, either strand) found by direct alignment is ITR-only.

    minimap2 misses some lone hairpin ITRs at nanopore error rates; the ITR kernel does not.
    """
    itr = max((c.itr1, c.itr2), key=lambda x: x.length)
    if len(read_seq) > 3 * itr.length:
        return
    best = None
    for i in (c.itr1, c.itr2):
        for strand, seq in ((1, read_seq), (-1, revcomp(read_seq))):
            x = call_itr(seq, i, p.flipflop_margin, p.itr_defect_bp)
            if best is None or x.score > best[0].score:
                best = (x, strand)
    x = best[0]
    if x.coverage >= 0.8 and x.score >= 0.6 * 2 * x.coverage * itr.length:
        call.cls = "itr_concatemer" if len(read_seq) >= p.concatemer_factor * itr.length else "itr_only"
        call.itr_calls = [x]
        call.path = f"ITR-by-alignment:{x.itr}:{'+' if best[1] > 0 else '-'}"
        call.bases_by_label["vector"] = len(read_seq)


def _prefer_vector(seg: Segment, read_seq: str, realign: Callable[[str], list[Hit]]) -> list[Segment]:
    """The segment re-aligned to the vector alone; vector pieces replace it when they explain >= 95% of its
    matches (several pieces when the stretch crosses the linear vector's origin)."""
    h = seg.hit
    pieces = select_segments([Segment(x, "vector") for x in realign(read_seq[h.qs : h.qe])], 1)
    if sum(x.hit.mlen for x in pieces) < 0.95 * h.mlen:
        return [seg]
    return [
        Segment(x.hit._replace(qs=x.hit.qs + h.qs, qe=x.hit.qe + h.qs, kind=h.kind), "vector") for x in pieces
    ]


def classify_read(
    read_id: str,
    read_seq: str,
    hits: list[Hit],
    labels: dict[str, str],
    c: AavConstruct,
    vector_type: str,
    p: AavParams,
    vector_realign: Callable[[str], list[Hit]] | None = None,
) -> ReadCall:
    """The class of one read and its per-read evidence.

    ``vector_realign`` maps a sequence to the vector plasmid alone: a non-vector segment that aligns there
    as well (>= 95% of its matches) is vector sequence shared by another plasmid (backbones), and the
    vector wins, as in LAAVA's label priority.
    """
    call = ReadCall(read_id, len(read_seq), "unmapped")
    segs = select_segments(resolve_labels(hits, labels), p.min_segment)
    if vector_realign is not None:
        segs = [
            x
            for s in segs
            for x in (_prefer_vector(s, read_seq, vector_realign) if s.label != "vector" else [s])
        ]
    if not segs:
        _short_itr_read(call, read_seq, c, p)
        return call
    for s in segs:
        call.bases_by_label[s.label] = call.bases_by_label.get(s.label, 0) + s.qlen
        if s.label == "vector":
            call.vector_spans.append((s.hit.rs, s.hit.re))
    gaps = uncovered(len(read_seq), [s.hit for s in segs], p.unaligned_min)
    kinds = sorted({s.label for s in segs})
    if gaps:
        call.bases_by_label["unaligned"] = sum(b - a for a, b in gaps)
    if len(kinds) > 1 or gaps:
        call.cls = "chimeric"
        call.partner = "+".join(kinds + (["unaligned"] if gaps else []))
        junc = []
        for x, y in zip(segs, segs[1:], strict=False):
            if x.label != y.label:
                junc.append(
                    f"q{y.hit.qs}:{x.hit.ref}:{x.hit.re if x.hit.strand > 0 else x.hit.rs}>"
                    f"{y.hit.ref}:{y.hit.rs if y.hit.strand > 0 else y.hit.re}"
                )
        junc.extend(f"q{a}-{b}:unaligned" for a, b in gaps)
        call.junctions = ";".join(junc)
        call.path = " > ".join(
            f"{s.label}{'+' if s.hit.strand > 0 else '-'}:{s.hit.ref}:{s.hit.rs}-{s.hit.re}" for s in segs
        )
        return call
    label = kinds[0]
    if label != "vector":
        call.cls = label if label in ("helper", "repcap", "host", "lambda") else "unmapped"
        call.path = " > ".join(f"{s.hit.ref}:{s.hit.rs}-{s.hit.re}" for s in segs)
        return call
    classify_vector(call, read_seq, segs, c, vector_type, p)
    return call
