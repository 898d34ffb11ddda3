"""Read alignment with minimap2 (mappy), returned as compact per-read hit records.

Each read gives a list of ``Hit``: primary ('P'), supplementary ('S'), near-best secondary ('2') and
rescued ('R') alignments, with query coordinates on the read as sequenced (forward), reference span,
strand, identity counts and the large deletions / insertions of the CIGAR. Rescue maps on its own any
read stretch that no primary/supplementary alignment covers (minimap2 often reports only one half of a
fold-back molecule); it is what lets a classifier see a whole read's path. Existing aligned BAMs give the
same records through ``hits_from_records``.

``ReferenceSet`` holds the references with their labels (vector, repcap, helper, lambda, host); the
index is built once and, for worker processes, saved as a minimap2 ``.mmi`` file that each worker loads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import mappy
import pysam

from cgtqc.errors import InputError
from cgtqc.seq.reads import Read, revcomp

LABELS = ("vector", "repcap", "helper", "lambda", "host")
LABEL_PRIORITY = {lab: i for i, lab in enumerate(LABELS)}  # vector wins ties, as in LAAVA
_CIGAR_REF = {0, 2, 3, 7, 8}
_CIGAR_QRY = {0, 1, 4, 7, 8}


class Hit(NamedTuple):
    """One alignment of a read, in forward read coordinates (qs < qe)."""

    ref: str
    rs: int
    re: int
    strand: int  # +1 or -1
    qs: int
    qe: int
    kind: str  # 'P' primary, 'S' supplementary, '2' near-best secondary, 'R' rescued
    mapq: int
    mlen: int  # matching bases
    blen: int  # alignment columns
    dels: tuple[tuple[int, int], ...] = ()  # (reference position, length) of deletions >= min_indel
    ins: tuple[tuple[int, int], ...] = ()  # (reference position, length) of insertions >= min_indel

    @property
    def identity(self) -> float:
        return self.mlen / self.blen if self.blen else 0.0


def label_for_name(name: str) -> str:
    """Default label of a packaging sequence from its name: rep/cap, lambda, else helper."""
    low = name.lower()
    if "rep" in low or "cap" in low:
        return "repcap"
    if "lambda" in low:
        return "lambda"
    return "helper"


def read_fasta(path: str | Path) -> list[tuple[str, str]]:
    """(name, sequence) pairs of a FASTA file; InputError for empty or non-DNA records."""
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", file=p)
    out: list[tuple[str, str]] = []
    try:
        with pysam.FastxFile(str(p)) as fh:
            for i, rec in enumerate(fh, 1):
                seq = (rec.sequence or "").upper()
                if not seq:
                    raise InputError("empty sequence", file=p, place=f"record {i} ({rec.name})")
                if re.search(r"[^ACGTNRYKMSWBDHV]", seq):
                    raise InputError("non-nucleotide characters", file=p, place=f"record {i} ({rec.name})")
                out.append((rec.name, seq))
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable FASTA ({exc})", file=p) from exc
    if not out:
        raise InputError("no FASTA records", file=p)
    return out


@dataclass
class ReferenceSet:
    """References to align against, each with a label; the vector plasmid is the first 'vector' entry."""

    names: list[str] = field(default_factory=list)
    seqs: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def add(self, name: str, seq: str, label: str, source: Path | None = None) -> None:
        if label not in LABELS:
            raise InputError(
                f"unknown reference label {label!r} (use one of {', '.join(LABELS)})", file=source, place=name
            )
        if name in self.names:
            raise InputError(f"reference name {name!r} appears twice", file=source, place=name)
        self.names.append(name)
        self.seqs.append(seq)
        self.labels.append(label)

    @classmethod
    def from_files(
        cls,
        vector: Path,
        packaging: Path | None = None,
        host: Path | None = None,
        labels: dict[str, str] | None = None,
    ) -> ReferenceSet:
        """Vector (label vector), packaging (labels from names or ``labels``) and host (label host)."""
        rs = cls()
        labels = labels or {}
        for path, default in ((vector, "vector"), (packaging, None), (host, "host")):
            if path is None:
                continue
            rs.files.append(Path(path))
            for name, seq in read_fasta(path):
                rs.add(name, seq, labels.get(name, default or label_for_name(name)), Path(path))
        return rs

    def label(self, name: str) -> str:
        try:
            return self.labels[self.names.index(name)]
        except ValueError:
            return "unknown"

    def label_map(self) -> dict[str, str]:
        return dict(zip(self.names, self.labels, strict=True))

    def write_fasta(self, path: Path) -> Path:
        with open(path, "w") as fh:
            for name, seq in zip(self.names, self.seqs, strict=True):
                fh.write(f">{name}\n")
                for i in range(0, len(seq), 80):
                    fh.write(seq[i : i + 80] + "\n")
        return path


@dataclass(frozen=True)
class AlignParams:
    """minimap2 settings. ``preset=None`` is minimap2's default (as LAAVA runs it); 'map-hifi' is faster."""

    preset: str | None = None
    secondary_ratio: float = 0.9  # keep secondaries scoring >= this fraction of the read's best hit
    min_indel: int = 30  # report CIGAR deletions/insertions at least this long
    rescue_min: int = 60  # map uncovered read stretches at least this long on their own
    best_n: int = 5

    def to_dict(self) -> dict:
        return {
            "preset": self.preset or "default",
            "secondary_ratio": self.secondary_ratio,
            "min_indel": self.min_indel,
            "rescue_min": self.rescue_min,
            "best_n": self.best_n,
        }


def _cigar_events(cigar: Iterable[Sequence[int]], r_st: int, min_indel: int, length_first: bool):
    """Large deletions and insertions of a CIGAR as (ref position, length), plus aligned columns."""
    dels, ins = [], []
    pos, cols = r_st, 0
    for item in cigar:
        n, op = (item[0], item[1]) if length_first else (item[1], item[0])
        if op in (0, 7, 8):
            pos += n
            cols += n
        elif op in (2, 3):
            if n >= min_indel:
                dels.append((pos, n))
            pos += n
            cols += n
        elif op == 1:
            if n >= min_indel:
                ins.append((pos, n))
            cols += n
    return tuple(dels), tuple(ins), cols


class ReadAligner:
    """A minimap2 index over a ReferenceSet (or a saved .mmi) that aligns reads to compact hits."""

    def __init__(self, index: str | Path, params: AlignParams | None = None, save_mmi: Path | None = None):
        self.params = params or AlignParams()
        kw = {"best_n": self.params.best_n}
        if self.params.preset:
            kw["preset"] = self.params.preset
        if save_mmi is not None:
            kw["fn_idx_out"] = str(save_mmi)
        self._aligner = mappy.Aligner(str(index), **kw)
        if not self._aligner:
            raise InputError("could not build or load the minimap2 index", file=index)

    @classmethod
    def from_sequence(
        cls, name: str, seq: str, params: AlignParams | None = None, circular: bool = False
    ) -> ReadAligner:
        """An aligner over one in-memory sequence (hits name it ``name``).

        ``circular``: the index holds the sequence plus its first 10 kb, so a stretch crossing the origin of
        a circular plasmid aligns in one piece; such hits come back split at the origin.
        """
        self = cls.__new__(cls)
        self.params = params or AlignParams()
        self._name, self._length = name, len(seq) if circular else 0
        kw = {"best_n": self.params.best_n, "seq": seq + seq[: min(len(seq), 10_000)] if circular else seq}
        if self.params.preset:
            kw["preset"] = self.params.preset
        self._aligner = mappy.Aligner(**kw)
        return self

    def map_hits(self, seq: str) -> list[Hit]:
        """Primary and supplementary hits of a sequence (no rescue, no secondaries)."""
        out = []
        for h in self._map(seq):
            if h.kind not in "PS":
                continue
            h = h._replace(ref=getattr(self, "_name", h.ref))
            out.extend(_unwrap(h, self._length) if getattr(self, "_length", 0) else [h])
        return out

    def _map(self, seq: str, offset: int = 0, rescued: bool = False) -> list[Hit]:
        hits: list[Hit] = []
        n_primary = 0
        for h in self._aligner.map(seq):
            if h.is_primary:
                kind = "R" if rescued else ("P" if n_primary == 0 else "S")
                n_primary += 1
            else:
                kind = "2"
            dels, ins, cols = _cigar_events(h.cigar, h.r_st, self.params.min_indel, True)
            hits.append(
                Hit(
                    h.ctg,
                    h.r_st,
                    h.r_en,
                    h.strand,
                    h.q_st + offset,
                    h.q_en + offset,
                    kind,
                    h.mapq,
                    h.mlen,
                    h.blen,
                    dels,
                    ins,
                )
            )
        if not hits:
            return hits
        best = max(h.mlen for h in hits if h.kind != "2") if n_primary else 0
        return [h for h in hits if h.kind != "2" or h.mlen >= self.params.secondary_ratio * best]

    def rescue(self, seq: str, hits: list[Hit]) -> list[Hit]:
        """Map uncovered read stretches (>= rescue_min) on their own and add what aligns."""
        extra: list[Hit] = []
        for a, b in uncovered(len(seq), [h for h in hits if h.kind in "PS"], self.params.rescue_min):
            extra.extend(h for h in self._map(seq[a:b], offset=a, rescued=True) if h.kind == "R")
        return hits + extra

    def align(self, read: Read) -> list[Hit]:
        """All hits of one read: primary, supplementary, near-best secondary, rescued."""
        return self.rescue(read.seq, self._map(read.seq))

    def align_chunk(self, reads: Sequence[Read]) -> list[list[Hit]]:
        return [self.align(r) for r in reads]


def _unwrap(h: Hit, n: int) -> list[Hit]:
    """A hit on a doubled circular sequence, back in [0, n): shifted, or split at the origin."""
    if h.rs >= n:
        return [h._replace(rs=h.rs - n, re=h.re - n, dels=(), ins=())]
    if h.re <= n:
        return [h]
    left, right = n - h.rs, h.re - n  # reference bases before / after the origin
    frac = left / (left + right)
    cut = h.qs + round((h.qe - h.qs) * (frac if h.strand > 0 else 1 - frac))
    a = h._replace(re=n, mlen=round(h.mlen * frac), blen=round(h.blen * frac), dels=(), ins=())
    b = h._replace(rs=0, re=right, mlen=h.mlen - a.mlen, blen=h.blen - a.blen, dels=(), ins=())
    if h.strand > 0:
        return [a._replace(qe=cut), b._replace(qs=cut)]
    return [b._replace(qe=cut), a._replace(qs=cut)]


def uncovered(length: int, hits: Iterable[Hit], min_len: int) -> list[tuple[int, int]]:
    """Read stretches of at least ``min_len`` bases that no hit covers."""
    spans = sorted((h.qs, h.qe) for h in hits)
    gaps, pos = [], 0
    for qs, qe in spans:
        if qs - pos >= min_len:
            gaps.append((pos, qs))
        pos = max(pos, qe)
    if length - pos >= min_len:
        gaps.append((pos, length))
    return gaps


def hits_from_records(records: Sequence[pysam.AlignedSegment], min_indel: int = 30) -> tuple[Read, list[Hit]]:
    """One read's BAM records → (Read from the primary record, hits in forward read coordinates)."""
    primary = next((r for r in records if not r.is_secondary and not r.is_supplementary), records[0])
    seq = primary.query_sequence or ""
    qual = primary.qual or ""
    if primary.is_reverse:
        seq, qual = revcomp(seq), qual[::-1]
    read = Read(primary.query_name, seq.upper(), qual)
    hits: list[Hit] = []
    for rec in records:
        if rec.is_unmapped or rec.cigartuples is None:
            continue
        ct = rec.cigartuples
        length = rec.infer_read_length() or len(seq)
        lead_h = ct[0][1] if ct[0][0] == 5 else 0
        qs_ref = lead_h + rec.query_alignment_start
        qe_ref = lead_h + rec.query_alignment_end
        qs, qe = (length - qe_ref, length - qs_ref) if rec.is_reverse else (qs_ref, qe_ref)
        dels, ins, cols = _cigar_events(ct, rec.reference_start, min_indel, False)
        nm = rec.get_tag("NM") if rec.has_tag("NM") else 0
        kind = "2" if rec.is_secondary else ("S" if rec.is_supplementary else "P")
        hits.append(
            Hit(
                rec.reference_name,
                rec.reference_start,
                rec.reference_end,
                -1 if rec.is_reverse else 1,
                qs,
                qe,
                kind,
                rec.mapping_quality,
                max(cols - nm, 0),
                cols,
                dels,
                ins,
            )
        )
    return read, hits
