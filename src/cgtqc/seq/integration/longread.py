"""Full-length integrants from long reads spanning host-LTR...LTR-host.

Each read is aligned with minimap2 (mappy: primary and supplementary alignments) to the provirus
(``--vector``: the integrated form, starting and ending with the LTR given by ``--ltr``), oriented so the
provirus reads 5' LTR to 3' LTR, and its two host flanks are aligned to the genome on their own. From that:

* **structure**: the stretch of the vector the read covers, and its internal deletions (a CIGAR deletion
  or a jump between consecutive split alignments of at least ``min_deletion`` bases). A split alignment
  lying wholly in an LTR is placed on the LTR its read order implies (the two LTRs are identical, so
  minimap2 cannot tell them apart);
* **junctions**: each LTR end is placed on the read by the alignment, then refined to an exact match of
  the LTR's 12 terminal bases within 15 bases (when present). The 5' junction is the host base next to
  the 5' LTR, the 3' junction the host base next to the 3' LTR; each is written as a ``posid``
  (``chr3-274324``) with the strand of the host read out of that LTR, so the 3' junction is the site
  short-read calling reports (intSiteCaller's convention);
* **target-site duplication** (TSD): the host bases present on both sides, from the two junctions
  (lentiviral integrase makes 4-6 bp; HIV-1 5 bp), and the duplicated bases as read.

Read classes: ``full_length`` (both junctions, the whole provirus, no deletion), ``deleted`` (both
junctions, internal deletion(s)), ``solo_ltr`` (both junctions around one LTR: LTR-LTR recombination),
``one_junction``, ``vector_only`` (no host flank placed), ``discordant`` (junctions on different
chromosomes or strands, or too far apart for a TSD: a host rearrangement or a chimera), ``rearranged``
(vector pieces out of order or inverted) and ``no_vector``. Reads of one integrant are grouped by their
3' junction within ``merge_window`` bp (the 5' junction and the typical TSD stand in when only it is
placed).

Not done: flanks shorter than ``min_flank`` (minimap2 seeds need about 50-100 bases) are not placed;
insertions in the provirus and host-side rearrangements beyond "discordant" are not described; multihit
flanks (mapq 0) are placed at minimap2's primary locus and marked ``ambiguous``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cgtqc.errors import InputError
from cgtqc.seq.align import AlignParams, Hit, ReadAligner, read_fasta
from cgtqc.seq.reads import Read, revcomp

LTR_MOTIF = 12  # terminal LTR bases matched exactly to place each LTR end on the read

CLASSES = (
    "full_length",
    "deleted",
    "solo_ltr",
    "one_junction",
    "vector_only",
    "discordant",
    "rearranged",
    "no_vector",
)


@dataclass(frozen=True)
class LongReadParams:
    """Settings of the long-read integrant analysis."""

    preset: str = "map-ont"
    min_flank: int = 50  # host bases needed on a side to place that junction
    min_deletion: int = 50  # shortest internal deletion reported
    end_slack: int = 25  # vector end counts as reached within this many bases
    max_tsd: int = 10  # |TSD| beyond this: discordant junctions
    expected_tsd: int = 5  # stands in for the 3' junction when only the 5' one is placed
    min_identity: float = 0.75
    merge_window: int = 5

    def __post_init__(self) -> None:
        if self.preset not in ("map-ont", "map-hifi", "map-pb"):
            raise InputError(f"preset {self.preset!r}: use map-ont, map-hifi or map-pb")
        for name in ("min_flank", "min_deletion", "end_slack", "max_tsd", "expected_tsd", "merge_window"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must not be negative")
        if not 0 < self.min_identity <= 1:
            raise InputError(f"min_identity {self.min_identity} must be in (0, 1]")


@dataclass(frozen=True)
class Junction:
    """A host base next to an LTR: 1-based position, strand of the host read out of the LTR."""

    chrom: str
    position: int
    strand: str
    mapq: int
    unaligned: int  # read bases between the LTR end and the host alignment (extrapolated over)

    @property
    def posid(self) -> str:
        return f"{self.chrom}{self.strand}{self.position}"


@dataclass(frozen=True)
class ReadStructure:
    """What one read shows (vector coordinates 0-based half-open; read coordinates as sequenced)."""

    read_id: str
    length: int
    klass: str
    orientation: str  # '+' when the read runs 5' LTR -> 3' LTR, '-' when reversed; '' without vector
    provirus_read: tuple[int, int] | None
    vector_span: tuple[int, int] | None
    deletions: tuple[tuple[int, int], ...] = ()
    junction5: Junction | None = None
    junction3: Junction | None = None
    tsd_length: int | None = None
    tsd: str = ""  # the duplicated host bases as read after the 3' LTR
    tsd_match: bool | None = None  # the same bases before the 5' LTR
    notes: tuple[str, ...] = ()

    @property
    def site_key(self) -> tuple[str, str, int] | None:
        return _site_key(self)


@dataclass
class Integrant:
    """Reads of one integrant (grouped by the 3' junction)."""

    posid: str
    chrom: str
    strand: str
    position: int
    junction5: str
    reads: int = 0
    classes: Counter = field(default_factory=Counter)
    deletions: Counter = field(default_factory=Counter)
    tsd_lengths: Counter = field(default_factory=Counter)

    def row(self) -> dict[str, Any]:
        tsd = self.tsd_lengths.most_common(1)[0][0] if self.tsd_lengths else None
        return {
            "posid": self.posid,
            "chrom": self.chrom,
            "strand": self.strand,
            "position": self.position,
            "junction5": self.junction5,
            "reads": self.reads,
            **{c: self.classes.get(c, 0) for c in CLASSES[:5]},
            "tsd_length": tsd,
            "deletions": ";".join(f"{a}-{b}:{n}" for (a, b), n in sorted(self.deletions.items())),
        }


class Provirus:
    """The integrated vector (LTR at both ends) and its minimap2 index."""

    def __init__(self, path: str | Path, ltr: str, params: LongReadParams):
        records = read_fasta(path)
        if len(records) != 1:
            raise InputError(f"expected one provirus sequence, found {len(records)}", file=path)
        self.name, self.seq = records[0]
        self.ltr = ltr.strip().upper()
        if not self.ltr or set(self.ltr) - set("ACGTN"):
            raise InputError(f"--ltr {ltr[:20]!r}...: not a DNA sequence")
        if len(self.seq) < 2 * len(self.ltr) or not (
            self.seq.startswith(self.ltr) and self.seq.endswith(self.ltr)
        ):
            raise InputError(
                f"the provirus must start and end with the LTR given ({len(self.ltr)} bp): give the "
                "integrated form (LTR ... LTR), not the plasmid",
                file=path,
                place=f"record 1 ({self.name})",
            )
        self.length = len(self.seq)
        self.aligner = ReadAligner.from_sequence(
            self.name, self.seq, AlignParams(preset=params.preset, min_indel=params.min_deletion)
        )


def _site_key(r: ReadStructure) -> tuple[str, str, int] | None:
    return (r.junction3.chrom, r.junction3.strand, r.junction3.position) if r.junction3 else None


def _good(hits: Iterable[Hit], p: LongReadParams) -> list[Hit]:
    return [h for h in hits if h.identity >= p.min_identity]


def _place_ltr_hits(hits: list[Hit], prov: Provirus, slack: int) -> list[Hit]:
    """Move split alignments lying wholly in one LTR to the LTR their read order implies."""
    n, L = prov.length, len(prov.ltr)
    out = list(hits)
    for k, h in enumerate(out):
        in3 = h.rs >= n - L - slack
        in5 = h.re <= L + slack
        if in3 and k == 0 and len(out) > 1:  # first piece of the read: the 5' LTR
            out[k] = h._replace(rs=h.rs - (n - L), re=h.re - (n - L))
        elif in5 and k == len(out) - 1 and len(out) > 1:  # last piece: the 3' LTR
            out[k] = h._replace(rs=h.rs + (n - L), re=h.re + (n - L))
    return out


def _refine(seq: str, pos: int, motif: str, at_end: bool, window: int = 15) -> int:
    """The LTR end nearest ``pos`` by an exact match of its terminal bases (``motif``): an alignment can
    run a few bases past the LTR, with a gap, when the host happens to resemble the vector. No match
    (a sequencing error in the motif): ``pos`` unchanged."""
    lo = max(0, pos - window - len(motif))
    region = seq[lo : pos + window + len(motif)]
    best, k = None, region.find(motif)
    while k >= 0:
        cand = lo + k + (len(motif) if at_end else 0)
        if abs(cand - pos) <= window and (best is None or abs(cand - pos) < abs(best - pos)):
            best = cand
        k = region.find(motif, k + 1)
    return pos if best is None else best


def _flank_hit(hits: list[Hit], side: str, flank_len: int, p: LongReadParams) -> Hit | None:
    """The genome hit of a flank nearest the LTR (its end for the left flank, its start for the right)."""
    hits = _good([h for h in hits if h.kind in "PS"], p)
    if not hits:
        return None
    h = max(hits, key=lambda x: x.qe) if side == "left" else min(hits, key=lambda x: x.qs)
    gap = flank_len - h.qe if side == "left" else h.qs
    return h if gap <= p.end_slack else None


def _junction(h: Hit, side: str, flank_len: int) -> Junction:
    """The host base next to the LTR. Left flank: the read runs host -> 5' LTR, so reading out of the
    LTR into host runs against the read; right flank: along the read."""
    if side == "left":
        off = flank_len - h.qe
        pos = h.re + off if h.strand > 0 else h.rs + 1 - off
        strand = "-" if h.strand > 0 else "+"
    else:
        off = h.qs
        pos = h.rs + 1 - off if h.strand > 0 else h.re + off
        strand = "+" if h.strand > 0 else "-"
    return Junction(h.ref, pos, strand, h.mapq, off)


def analyse_read(read: Read, prov: Provirus, genome: ReadAligner, p: LongReadParams) -> ReadStructure:
    """The structure of one long read."""
    n = len(read.seq)
    hits = _good(prov.aligner.map_hits(read.seq), p)
    if not hits:
        return ReadStructure(read.name, n, "no_vector", "", None, None)
    main = max(hits, key=lambda h: h.qe - h.qs)
    seq = read.seq if main.strand > 0 else revcomp(read.seq)
    orientation = "+" if main.strand > 0 else "-"
    if main.strand < 0:
        hits = _good(prov.aligner.map_hits(seq), p)
    notes: list[str] = []
    fwd = sorted((h for h in hits if h.strand > 0), key=lambda h: h.qs)
    rearranged = len(fwd) != len(hits)
    if rearranged:
        notes.append("inverted vector segment")
    fwd = _place_ltr_hits(fwd, prov, p.end_slack)
    deletions: list[tuple[int, int]] = []
    for h in fwd:
        deletions.extend((pos, pos + length) for pos, length in h.dels if length >= p.min_deletion)
    for a, b in zip(fwd, fwd[1:], strict=False):
        vec_gap, read_gap = b.rs - a.re, b.qs - a.qe
        if vec_gap < -p.min_deletion:
            rearranged = True
            notes.append(f"vector order breaks at {a.re}->{b.rs}")
        elif vec_gap - max(read_gap, 0) >= p.min_deletion:
            deletions.append((a.re, b.rs))
    first, last = fwd[0], fwd[-1]
    L = len(prov.ltr)
    solo = len(fwd) == 1 and (first.re <= L + p.end_slack or first.rs >= prov.length - L - p.end_slack)
    if solo:  # one piece within one LTR: its own ends are the LTR's ends
        base = 0 if first.re <= L + p.end_slack else prov.length - L
        rs, re_, top = first.rs - base, first.re - base, L
    else:
        rs, re_, top = first.rs, last.re, prov.length
    start5 = rs <= p.end_slack
    end3 = top - re_ <= p.end_slack
    qs = first.qs - rs if start5 else first.qs
    qe = last.qe + (top - re_) if end3 else last.qe
    qs, qe = max(qs, 0), min(qe, n)
    if start5:
        qs = _refine(seq, qs, prov.ltr[:LTR_MOTIF], at_end=False)
    if end3:
        qe = _refine(seq, qe, prov.ltr[-LTR_MOTIF:], at_end=True)
    j5 = j3 = None
    if start5 and qs >= p.min_flank:
        h = _flank_hit(genome.map_hits(seq[:qs]), "left", qs, p)
        j5 = _junction(h, "left", qs) if h else None
    if end3 and n - qe >= p.min_flank:
        h = _flank_hit(genome.map_hits(seq[qe:]), "right", n - qe, p)
        j3 = _junction(h, "right", n - qe) if h else None
    for j in (j5, j3):
        if j is not None and j.mapq == 0:
            notes.append(f"ambiguous host placement at {j.posid}")
    tsd_len, tsd, tsd_match = None, "", None
    klass = "vector_only"
    if j5 and j3:
        # the provirus lies on the genome's + strand when reading out of the 3' LTR runs +
        same = j5.chrom == j3.chrom and j5.strand != j3.strand
        if same:
            tsd_len = (j5.position - j3.position + 1) if j3.strand == "+" else (j3.position - j5.position + 1)
        if not same or tsd_len is None or abs(tsd_len) > p.max_tsd:
            klass = "discordant"
            notes.append(f"junctions {j5.posid} and {j3.posid} do not flank one integration")
            tsd_len = None
        else:
            if tsd_len > 0:
                tsd = seq[qe : qe + tsd_len]
                tsd_match = seq[qs - tsd_len : qs] == tsd
            klass = "solo_ltr" if solo else ("deleted" if deletions else "full_length")
    elif j5 or j3:
        klass = "one_junction"
    if rearranged:
        klass = "rearranged"
    span = (first.rs, last.re) if not solo else (first.rs, first.re)
    read_span = (qs, qe) if orientation == "+" else (n - qe, n - qs)
    return ReadStructure(
        read.name,
        n,
        klass,
        orientation,
        read_span,
        span,
        tuple(sorted(deletions)),
        j5,
        j3,
        tsd_len,
        tsd,
        tsd_match,
        tuple(notes),
    )


def group_integrants(reads: Iterable[ReadStructure], p: LongReadParams) -> list[Integrant]:
    """Reads with a placed junction grouped into integrants by the 3' junction (within merge_window)."""
    keyed: list[tuple[tuple[str, str, int], ReadStructure]] = []
    for r in reads:
        if r.klass in ("discordant", "rearranged", "no_vector") or (
            r.junction3 is None and r.junction5 is None
        ):
            continue
        if r.junction3 is not None:
            key = (r.junction3.chrom, r.junction3.strand, r.junction3.position)
        else:
            j = r.junction5
            assert j is not None
            # the 3' junction strand is opposite to the 5' one; position shifted back over the TSD
            strand = "+" if j.strand == "-" else "-"
            shift = p.expected_tsd - 1
            key = (j.chrom, strand, j.position - shift if strand == "+" else j.position + shift)
        keyed.append((key, r))
    keyed.sort(key=lambda kr: kr[0])
    out: list[Integrant] = []
    group: list[tuple[tuple[str, str, int], ReadStructure]] = []

    def close() -> None:
        if not group:
            return
        pos = Counter(k for k, r in group if r.junction3 is not None) or Counter(k for k, _ in group)
        (chrom, strand, position), _ = pos.most_common(1)[0]
        j5 = Counter(r.junction5.posid for _, r in group if r.junction5 is not None)
        it = Integrant(
            f"{chrom}{strand}{position}", chrom, strand, position, j5.most_common(1)[0][0] if j5 else ""
        )
        for _, r in group:
            it.reads += 1
            it.classes[r.klass] += 1
            for d in r.deletions:
                it.deletions[d] += 1
            if r.tsd_length is not None:
                it.tsd_lengths[r.tsd_length] += 1
        out.append(it)

    for key, r in keyed:
        if group and (key[:2] != group[-1][0][:2] or key[2] - group[-1][0][2] > p.merge_window):
            close()
            group = []
        group.append((key, r))
    close()
    return sorted(out, key=lambda i: (-i.reads, i.posid))


READ_COLUMNS = (
    "read_id",
    "length",
    "class",
    "orientation",
    "provirus_start",
    "provirus_end",
    "vector_start",
    "vector_end",
    "deletions",
    "junction5",
    "junction3",
    "tsd_length",
    "tsd",
    "tsd_match",
    "notes",
)


def read_row(r: ReadStructure) -> list[str]:
    """One line of ``reads.tsv``."""

    def s(v: Any) -> str:
        return "" if v is None else str(v)

    return [
        r.read_id,
        str(r.length),
        r.klass,
        r.orientation,
        s(r.provirus_read[0] if r.provirus_read else None),
        s(r.provirus_read[1] if r.provirus_read else None),
        s(r.vector_span[0] if r.vector_span else None),
        s(r.vector_span[1] if r.vector_span else None),
        ";".join(f"{a}-{b}" for a, b in r.deletions),
        r.junction5.posid if r.junction5 else "",
        r.junction3.posid if r.junction3 else "",
        s(r.tsd_length),
        r.tsd,
        s(r.tsd_match),
        "; ".join(r.notes),
    ]


def summarise(reads: list[ReadStructure], integrants: list[Integrant], p: LongReadParams) -> dict[str, Any]:
    """Counts per class, TSD lengths and integrants, for ``summary.json``."""
    classes = Counter(r.klass for r in reads)
    tsd = Counter(r.tsd_length for r in reads if r.tsd_length is not None)
    return {
        "reads": len(reads),
        "classes": {c: classes.get(c, 0) for c in CLASSES},
        "integrants": len(integrants),
        "tsd_lengths": {str(k): v for k, v in sorted(tsd.items())},
        "params": asdict(p),
    }


@dataclass
class LongReadResult:
    """Every read's structure, the integrants and the summary."""

    reads: list[ReadStructure]
    integrants: list[Integrant]
    summary: dict[str, Any]


def analyse_reads(
    reads: Iterable[Read],
    genome: str | Path,
    vector: str | Path,
    ltr: str,
    params: LongReadParams = LongReadParams(),
    progress: Callable[[int], None] | None = None,
) -> LongReadResult:
    """Analyse long reads against a genome FASTA and the provirus FASTA (LTR ... LTR); ``progress(1)``
    is called after each read."""
    prov = Provirus(vector, ltr, params)
    g = Path(genome)
    if not g.exists():
        raise InputError("file not found", file=g)
    host = ReadAligner(g, AlignParams(preset=params.preset, min_indel=params.min_deletion))
    structures = []
    for r in reads:
        structures.append(analyse_read(r, prov, host, params))
        if progress is not None:
            progress(1)
    if not structures:
        raise InputError("no reads")
    integrants = group_integrants(structures, params)
    return LongReadResult(structures, integrants, summarise(structures, integrants, params))


def write_outputs(result: LongReadResult, out_dir: str | Path, provenance: dict[str, Any]) -> list[Path]:
    """``reads.tsv`` (one row per read), ``integrants.tsv`` (one per integrant) and ``summary.json``;
    each complete or absent."""
    import json

    from cgtqc.results import atomic_write

    out = Path(out_dir)
    rows = ["\t".join(READ_COLUMNS)] + ["\t".join(read_row(r)) for r in result.reads]
    irows = [it.row() for it in result.integrants]
    icols = list(irows[0]) if irows else list(Integrant("", "", "", 0, "").row())
    itext = ["\t".join(icols)] + ["\t".join("" if r[c] is None else str(r[c]) for c in icols) for r in irows]
    try:
        return [
            atomic_write(out / "reads.tsv", "\n".join(rows) + "\n"),
            atomic_write(out / "integrants.tsv", "\n".join(itext) + "\n"),
            atomic_write(
                out / "summary.json", json.dumps({**result.summary, "provenance": provenance}, indent=2)
            ),
        ]
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror or exc}", file=out) from None
