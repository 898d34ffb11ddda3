"""Quantification windows, references and per-read modification calls, with CRISPResso2's rules.

* Cut site: ``quantification_window_center`` (default -3) bases from the guide's 3' end; the
  window is ``size`` bases on each side of the cut (default 1), clipped to the amplicon, minus
  ``exclude_bp_from_left/right`` (default 15). Without a guide found, the window is the whole
  amplicon minus the excluded ends. Coordinates ``a-b_c-d`` (0-based, inclusive) override.
* An insertion counts when the reference bases on both sides are in the window; a deletion when
  any deleted base is; a substitution when its position is and the read base is not N.
* The HDR donor (and any amplicon without its own cut site) takes the window of the first
  reference through a global alignment; prime editing adds a Prime-edited reference built by
  splicing the reverse complement of the pegRNA extension into the amplicon.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from cgtqc.errors import InputError
from cgtqc.seq.editing.align import Aligner, _kernel, reverse_complement

NUCS = "ACGTN-"


@dataclass
class Reference:
    """One reference the reads are compared with (amplicon, HDR, Prime-edited)."""

    name: str
    sequence: str
    include: np.ndarray  # bool mask over reference positions: the quantification window
    incentive: np.ndarray  # gap incentive, len(sequence) + 1
    cut_points: list[int] = field(default_factory=list)
    guide_intervals: list[tuple[int, int]] = field(default_factory=list)
    fw_seeds: list[str] = field(default_factory=list)
    rc_seeds: list[str] = field(default_factory=list)
    min_aln_score: float = 60.0
    has_guide: bool = False

    @property
    def window(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.include)]


@dataclass
class WindowParams:
    """Window options, with CRISPResso2's defaults."""

    qw_center: int = -3
    qw_size: int = 1
    exclude_left: int = 15
    exclude_right: int = 15
    pe_extension_qw_size: int = 5
    seed_len: int = 10
    seed_count: int = 5
    gap_incentive: int = 1


call_read = _kernel.call_read
"""``call_read(aln_read, aln_ref, include)``: the modification calls of one alignment (uint8 rows, read
left to right; ``include`` the window mask over reference positions): (insertion_n, deletion_n,
substitution_n) inside the window, then the numbers of all insertions, deletions (events) and
substitutions anywhere. An insertion counts when the reference bases on both sides are in the window, a
deletion when any deleted base is, a substitution when its position is and the read base is not N."""

add_base_counts = _kernel.add_base_counts
"""``add_base_counts(aln_read, aln_ref, counts, weight)``: add ``weight`` for the read's base (A C G T N -)
at every reference position to ``counts`` (int64, shape (6, len(reference)))."""


def ref_positions(aln_ref: str) -> list[int]:
    """Reference index of each alignment column; insertion columns get -(index of the base before)."""
    out = []
    idx = 0
    for c in aln_ref:
        if c != "-":
            out.append(idx)
            idx += 1
        else:
            out.append(-1 if idx == 0 else -idx)
    return out


def _guide_sites(
    seq: str, guide: str, center: int, size: int
) -> tuple[list[int], list[tuple[int, int]], list[int]]:
    """Cut points, intervals and window positions of every forward and reverse match of a guide."""
    cuts, intervals, include = [], [], []
    L = len(seq)
    g = guide.upper()
    for pattern, offset in ((g, center + len(g) - 1), (reverse_complement(g), -center - 1)):
        for m in re.finditer(r"(?=(" + re.escape(pattern) + r"))", seq, flags=re.IGNORECASE):
            cut = m.start() + offset
            cuts.append(cut)
            intervals.append((m.start(), m.start() + len(g) - 1))
            if size > 0:
                st = max(0, cut - size + 1)
                en = min(L - 1, cut + size + 1)
                include.extend(range(st, en))
    return cuts, intervals, include


def parse_window_coordinates(
    coords: str, length: int, where: str = "--quantification_window_coordinates"
) -> list[int]:
    """Positions of ``a-b_c-d`` (0-based, both ends included)."""
    out: list[int] = []
    for part in str(coords).split("_"):
        m = re.match(r"^(\d+)-(\d+)$", part)
        if not m:
            raise InputError(
                f"cannot parse window coordinate {part!r}; use start-end, e.g. 5-10", place=where
            )
        start, end = int(m.group(1)), int(m.group(2)) + 1
        if end > length:
            raise InputError(
                f"window end {end} for {part!r} is beyond the amplicon length {length}", place=where
            )
        out.extend(range(start, end))
    return out


def amplicon_window(
    seq: str, guides: list[tuple[str, int, int]], coords: str | None, p: WindowParams, name: str
) -> tuple[list[int], list[tuple[int, int]], np.ndarray]:
    """Cut points, guide intervals and the window mask of one amplicon."""
    L = len(seq)
    exclude = set(range(p.exclude_left)) if p.exclude_left else set()
    if p.exclude_right:
        exclude |= set(range(L)[-p.exclude_right :])
    cuts: list[int] = []
    intervals: list[tuple[int, int]] = []
    include: list[int] = []
    for g, center, size in guides:
        if not g:
            continue
        c, iv, inc = _guide_sites(seq, g, center, size)
        cuts += c
        intervals += iv
        include += inc
    given: list[int] = []
    if coords is not None and coords != "0":
        include = parse_window_coordinates(coords, L)
        given = include
    elif cuts and include:
        given = include
    else:
        include = list(range(L))
    final = set(include) - exclude
    if set(given) - final:
        raise InputError(
            f"amplicon {name!r}: the quantification window is partly inside the excluded ends "
            f"(--exclude_bp_from_left/right)",
            place="window",
        )
    if not final:
        raise InputError(
            f"amplicon {name!r}: the whole quantification window is excluded; shorten "
            f"--exclude_bp_from_left/right",
            place="window",
        )
    mask = np.zeros(L, dtype=np.bool_)
    mask[sorted(final)] = True
    return cuts, intervals, mask


def seeds(seq: str, p: WindowParams) -> tuple[list[str], list[str]]:
    """Strand seeds: 10-mers every 5 bp that are absent from the reverse complement (CRISPResso2's rule)."""
    L = len(seq)
    rc = reverse_complement(seq)
    fw: list[str] = []
    rv: list[str] = []
    for start in range(p.exclude_left, L - p.exclude_right - p.seed_len, p.seed_count):
        attempts = 0
        s = start
        cand = seq[s : s + p.seed_len]
        while cand in rc or cand in fw:
            attempts += 1
            if attempts > 100:
                break
            if start > L - p.seed_len:
                s = 0
            s += 1
            cand = seq[s : s + p.seed_len]
        cand_rc = reverse_complement(cand)
        if cand_rc in seq:
            continue
        if cand not in rc:
            fw.append(cand)
            rv.append(cand_rc)
    return fw, rv


def relative_coordinates(to_aln: str, from_aln: str) -> tuple[list[int], list[int]]:
    """For each base of the 'from' sequence, the index in the 'to' sequence (gap: left/right value)."""
    left, right = [], []
    li, ri = -1, 0
    for a, b in zip(to_aln, from_aln, strict=True):
        if a != "-":
            li += 1
        if b != "-":
            left.append(li)
            right.append(ri)
        if a != "-":
            ri += 1
    return left, right


def _align(
    read: str, ref: str, inc: np.ndarray | None = None, gap_open: int = -20, gap_extend: int = -2
) -> tuple[str, str, float]:
    inc = np.zeros(len(ref) + 1, dtype=np.int64) if inc is None else inc
    return Aligner(ref, inc, band=None, gap_open=gap_open, gap_extend=gap_extend).align(read)


def alignment_coordinates(to_seq: str, from_seq: str) -> tuple[list[int], list[int]]:
    a, b, _ = _align(to_seq, from_seq)
    return relative_coordinates(a, b)


def best_aln_pos(guide: str, amp: str) -> tuple[str, int, int, str, str]:
    """Where a short sequence sits in an amplicon (gap open -50, free extension, as for pegRNA parts)."""
    s1, s2, _ = _align(guide, amp, gap_open=-50, gap_extend=0)
    m = re.search(r"^-+", s1)
    start = m.span()[1] if m else 0
    m = re.search(r"-+$", s1)
    end = m.span()[0] if m else len(amp)
    return s2[start:end].replace("-", ""), start, end, s1, s2


@dataclass
class PrimeEditing:
    """pegRNA parts (RNA 5'->3' as written by the user; U or T)."""

    spacer: str
    extension: str
    nicking_guide: str = ""
    scaffold: str = ""
    scaffold_min_match: int = 1


def prime_edited_sequence(amp: str, pe: PrimeEditing) -> str:
    """The amplicon with the pegRNA extension's template written in."""
    ext_dna = reverse_complement(pe.extension.upper().replace("U", "T"))
    _, start, end, _, s2 = best_aln_pos(ext_dna, amp)
    return s2[0:start] + ext_dna + s2[end:]


def _pe_guides(
    this: str, ref0: str, edited: str, pe: PrimeEditing, p: WindowParams
) -> list[tuple[str, int, int]]:
    """The pegRNA extension, spacer and nicking guide as located in this amplicon, with their windows."""
    ext_dna = reverse_complement(pe.extension.upper().replace("U", "T"))
    out: list[tuple[str, int, int]] = []
    best, *_ = best_aln_pos(ext_dna, edited)
    if this == edited:
        out.append((best, 0, p.pe_extension_qw_size))
    else:
        m = re.search(best, edited)
        cl, cr = alignment_coordinates(this, edited)
        seq = this[cl[m.start()] :] if m.end() >= len(cr) else this[cl[m.start()] : cr[m.end()]]
        out.append((seq, 0, p.pe_extension_qw_size))
    spacer = pe.spacer.upper().replace("U", "T")
    if spacer not in ref0 and reverse_complement(spacer) not in ref0:
        raise InputError(
            "the pegRNA spacer is not in the amplicon", place="--prime_editing_pegRNA_spacer_seq"
        )
    parts = [(spacer, ref0, this)]
    if pe.nicking_guide:
        nick = pe.nicking_guide.upper().replace("U", "T")
        parts.append((nick, reverse_complement(ref0), reverse_complement(this)))
    for g, r0, th in parts:
        best, *_ = best_aln_pos(g, r0)
        if th == r0:
            out.append((best, p.qw_center, p.qw_size))
            continue
        m = re.search(best, r0)
        cl, cr = alignment_coordinates(th, r0)
        if m.end() >= len(cr):
            seq = th[cl[m.start()] :]
            end_adj = len(cr) - 1
        else:
            seq = th[cl[m.start()] : cr[m.end()]]
            end_adj = m.end()
        _, rcr = alignment_coordinates(r0, th)
        center = rcr[end_adj + p.qw_center] - cr[end_adj]
        out.append((seq, center, p.qw_size))
    return out


def scaffold_search(edited: str, pe: PrimeEditing) -> tuple[int, str]:
    """(position after the extension in the Prime-edited reference, shortest scaffold prefix to look for)."""
    scaffold_dna = reverse_complement(pe.scaffold.upper().replace("U", "T"))
    ext_dna = reverse_complement(pe.extension.upper().replace("U", "T"))
    loc = edited.index(ext_dna) + len(ext_dna)
    n = pe.scaffold_min_match
    while ext_dna + scaffold_dna[:n] in edited:
        if n > len(scaffold_dna):
            raise InputError(
                "the scaffold is found in the prime-edited amplicon; give a longer scaffold",
                place="--prime_editing_pegRNA_scaffold_seq",
            )
        n += 1
    return loc, scaffold_dna[:n]


def _cloned_coordinate_window(coords: str, idxs: list[int], length: int) -> list[int]:
    """Window coordinates of the first reference carried over to another one through an alignment."""
    out: list[int] = []
    for part in str(coords).split("_"):
        m = re.match(r"^(\d+)-(\d+)$", part)
        if not m:
            raise InputError(
                f"cannot parse window coordinate {part!r}", place="--quantification_window_coordinates"
            )
        start, end = int(m.group(1)), int(m.group(2))
        lo, hi = min(idxs), max(idxs)
        while start not in idxs and start < hi:
            start += 1
        while end not in idxs and end > lo:
            end -= 1
        if end >= start:
            out.extend(range(idxs.index(start), idxs.index(end) + 1))
    return [x for x in out if x >= 0]


def _excluded(length: int, p: WindowParams) -> set[int]:
    ex = set(range(p.exclude_left)) if p.exclude_left else set()
    if p.exclude_right:
        ex |= set(range(length)[-p.exclude_right :])
    return ex


def _mask(length: int, positions: set[int] | list[int]) -> np.ndarray:
    mask = np.zeros(length, dtype=np.bool_)
    pos = [q for q in positions if 0 <= q < length]
    mask[pos] = True
    return mask


_VALID = re.compile(r"^[ACGTN]*$")


def build_references(
    amplicons: list[tuple[str, str]],
    guides: list[str],
    p: WindowParams,
    window_coordinates: str | None = None,
    hdr_sequence: str | None = None,
    prime: PrimeEditing | None = None,
    min_aln_score: float = 60.0,
    qw_centers: str | None = None,
    qw_sizes: str | None = None,
) -> list[Reference]:
    """The references of an analysis, with windows, cut-site incentives and strand seeds."""
    names = [n for n, _ in amplicons]
    seqs = [s.strip().upper() for _, s in amplicons]
    for name, s in zip(names, seqs, strict=True):
        if not s:
            raise InputError(f"amplicon {name!r} is empty", place="--amplicon_seq")
    if hdr_sequence:
        hdr = hdr_sequence.strip().upper()
        if hdr in seqs:
            raise InputError(
                "the HDR donor sequence is identical to an amplicon", place="--expected_hdr_amplicon_seq"
            )
        seqs.append(hdr)
        names.append("HDR")
    coords = [""] * len(seqs)
    if window_coordinates is not None:
        for i, c in enumerate(window_coordinates.strip("'").strip('"').split(",")):
            if c != "" and i < len(coords):
                coords[i] = c
    edited = ""
    if prime is not None:
        if "Prime-edited" in names:
            raise InputError("an amplicon may not be named 'Prime-edited'", place="--amplicon_name")
        edited = prime_edited_sequence(seqs[0], prime)
        if edited in seqs:
            raise InputError(
                "the prime-edited amplicon equals an amplicon", place="--prime_editing_pegRNA_extension_seq"
            )
        seqs.append(edited)
        names.append("Prime-edited")
        coords.append("")
    for name, s in zip(names, seqs, strict=True):
        if not _VALID.match(s):
            bad = sorted(set(s) - set("ACGTN"))
            raise InputError(
                f"amplicon {name!r} contains invalid characters: {' '.join(bad)}", place="--amplicon_seq"
            )
    if len(set(seqs)) != len(seqs):
        raise InputError("amplicon sequences must be unique", place="--amplicon_seq")
    user = [g.strip().upper().replace("U", "T") for g in guides if g.strip()]
    for g in user:
        if not _VALID.match(g):
            raise InputError(f"guide {g!r} contains invalid characters", place="--guide_seq")
    centers = _per_guide(qw_centers, p.qw_center, len(user), "-wc")
    sizes = _per_guide(qw_sizes, p.qw_size, len(user), "-w")
    found = [False] * len(user)
    refs: list[Reference] = []
    for idx, (name, s) in enumerate(zip(names, seqs, strict=True)):
        these = list(zip(user, centers, sizes, strict=True))
        if prime is not None:
            these += _pe_guides(s, seqs[0], edited, prime, p)
        cuts, intervals, mask = amplicon_window(s, these, coords[idx] or None, p, name)
        for gi, g in enumerate(user):
            if g in s or reverse_complement(g) in s:
                found[gi] = True
        inc = np.zeros(len(s) + 1, dtype=np.int64)
        for c in cuts:
            inc[c + 1] = p.gap_incentive
        fw, rv = seeds(s, p)
        refs.append(
            Reference(
                name=name,
                sequence=s,
                include=mask,
                incentive=inc,
                cut_points=cuts,
                guide_intervals=intervals,
                fw_seeds=fw,
                rc_seeds=rv,
                min_aln_score=min_aln_score,
                has_guide=bool(cuts),
            )
        )
    for gi, ok in enumerate(found):
        if not ok:
            raise InputError(f"guide {gi} ({user[gi]}) is not in any amplicon sequence", place="--guide_seq")
    _clone_windows(refs, coords, p, bool(hdr_sequence))
    return refs


def _per_guide(values: str | None, default: int, n: int, option: str) -> list[int]:
    """One window centre or size per guide: a comma list, missing values take the first."""
    parts = str(default if values is None else values).split(",")
    if len(parts) > 1 and len(parts) > n:
        raise InputError(f"more values than guides ({len(parts)} > {n})", place=option)
    try:
        out = [int(parts[0])] * n
        for i, v in enumerate(parts[:n]):
            if v != "":
                out[i] = int(v)
    except ValueError as exc:
        raise InputError(f"not an integer: {values!r}", place=option) from exc
    return out


def _clone_windows(refs: list[Reference], coords: list[str], p: WindowParams, has_hdr: bool) -> None:
    """Give references without their own cut site the window of the first reference that has one."""
    clone = next(
        (i for i, r in enumerate(refs) if r.cut_points or (i < len(coords) and coords[i] != "")), None
    )
    if clone is None:
        return
    src = refs[clone]
    for i, r in enumerate(refs):
        if i == clone:
            continue
        is_hdr = has_hdr and r.name == "HDR"
        needs = is_hdr or not r.cut_points or not r.guide_intervals
        a, b, score = _align(src.sequence, r.sequence, r.incentive)
        if score < 60:
            continue
        s1inds, _ = relative_coordinates(a, b)
        excluded = _excluded(len(r.sequence), p)
        if needs:
            cuts = [s1inds[x] for x in src.cut_points]
            inc = np.zeros(len(r.sequence) + 1, dtype=np.int64)
            for c in cuts:
                inc[c + 1] = p.gap_incentive
            include: list[int] = []
            run_start = last = -1
            for v in src.window:
                if run_start == -1:
                    run_start = v
                elif v != last + 1:
                    include.extend(range(s1inds[run_start], s1inds[last] + 1))
                    run_start = v
                last = v
            if run_start != -1:
                include.extend(range(s1inds[run_start], s1inds[last] + 1))
            r.incentive = inc
            r.cut_points = cuts
            r.guide_intervals = [(s1inds[x], s1inds[y]) for x, y in src.guide_intervals]
            r.include = _mask(len(r.sequence), set(include) - excluded)
            r.has_guide = src.has_guide
        if coords[clone] != "" and (i >= len(coords) or coords[i] != "0"):
            own = coords[i] if i < len(coords) else ""
            if own:
                include = parse_window_coordinates(own, len(r.sequence))
            else:
                include = _cloned_coordinate_window(coords[clone], list(s1inds), len(r.sequence))
            r.include = _mask(len(r.sequence), set(include) - excluded)
