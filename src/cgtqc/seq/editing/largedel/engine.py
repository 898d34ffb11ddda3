"""Large deletions (≥ 50 bp up to kilobases) from long-read amplicon sequencing.

Short-read amplicon tools lose large deletions: the deleted allele no longer contains a primer site or
falls under the alignment-identity threshold. With long reads covering the whole amplicon, each read
is aligned to the amplicon with minimap2 (mappy) and a deletion is seen in one of two ways:

- **gapped**: a ``D`` operation (or several close together, merged when the aligned stretch between
  them is ≤ ``merge_distance`` bp) in one alignment;
- **split**: two collinear alignments of the same read on the same strand (primary + supplementary)
  whose reference gap exceeds their query gap; size = reference gap − query gap.

A read counts toward the denominator only when its alignments span the amplicon from within
``end_tolerance`` bp of its start to within ``end_tolerance`` bp of its end (a truncated fragment says
nothing about the allele). Large-deletion % = spanning reads with a deletion ≥ ``min_size`` / spanning
reads, with a Wilson interval. The read's call is its largest deletion.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mappy

from cgtqc.errors import InputError
from cgtqc.results import Provenance, ValidityCheck, file_input
from cgtqc.seq.editing.offtarget.engine import read_fasta
from cgtqc.seq.editing.setup import DeletionSetup
from cgtqc.seq.editing.stats import Proportion, proportion
from cgtqc.seq.fastq import chunked, fastx_kind, iter_fastq_reads

ENGINE = "cgtqc.seq.editing.largedel.engine"
SIZE_BINS = (50, 100, 250, 500, 1000, 2000, 5000)


@dataclass(frozen=True)
class Deletion:
    """One deletion in reference coordinates (0-based start, exclusive end)."""

    start: int
    end: int
    size: int
    method: str  # "gapped" or "split"

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "size": self.size, "method": self.method}


@dataclass(frozen=True)
class ReadCall:
    """The large-deletion call of one read."""

    read: str
    aligned: bool
    spanning: bool
    deletion: Deletion | None

    def to_dict(self) -> dict[str, Any]:
        return {"read": self.read, "aligned": self.aligned, "spanning": self.spanning,
                "deletion": self.deletion.to_dict() if self.deletion else None}


@dataclass
class LargeDeletionResult:
    """Per-read calls and the sample's large-deletion percentage."""

    reference: str
    reads_total: int
    reads_aligned: int
    reads_spanning: int
    large_deletion: Proportion
    size_histogram: dict[str, int]
    calls: list[ReadCall]
    provenance: Provenance
    checks: list[ValidityCheck] = field(default_factory=list)

    def to_dict(self, with_reads: bool = False) -> dict[str, Any]:
        d = {"reference": self.reference, "reads_total": self.reads_total,
             "reads_aligned": self.reads_aligned,
             "reads_spanning": self.reads_spanning, "large_deletion": self.large_deletion.to_dict(),
             "size_histogram": self.size_histogram, "checks": [c.to_dict() for c in self.checks],
             "provenance": self.provenance.to_dict()}
        if with_reads:
            d["calls"] = [c.to_dict() for c in self.calls]
        return d

    def write_calls(self, path: str | Path) -> None:
        """Tab-separated per-read calls."""
        with open(path, "w") as fh:
            fh.write("read\taligned\tspanning\tdeletion_start\tdeletion_end\tdeletion_size\tmethod\n")
            for c in self.calls:
                d = c.deletion
                cols = [c.read, str(int(c.aligned)), str(int(c.spanning)),
                        *(map(str, (d.start, d.end, d.size, d.method)) if d else ("", "", "", ""))]
                fh.write("\t".join(cols) + "\n")


def read_long_reads(path: str | Path) -> Iterator[tuple[str, str]]:
    """Stream (read id, sequence) from FASTQ or FASTA (optionally gzipped); InputError on malformed records.

    FASTQ goes through the shared reader (:mod:`cgtqc.seq.fastq`, bounded memory); FASTA through the
    genome reader.
    """
    path = Path(path)
    if fastx_kind(path) == "fasta":
        for name, seq in read_fasta(path):
            yield name, seq.decode()
        return
    for name, seq, _ in iter_fastq_reads(path):
        yield name, seq


@dataclass(frozen=True)
class _Piece:
    """One alignment of (part of) a read, query coordinates on the read as given."""

    r_st: int
    r_en: int
    q_st: int
    q_en: int
    strand: int
    mlen: int
    cigar: tuple[tuple[int, int], ...]

    @classmethod
    def from_hit(cls, h: mappy.Alignment, offset: int = 0) -> _Piece:
        return cls(h.r_st, h.r_en, h.q_st + offset, h.q_en + offset, h.strand, h.mlen,
                   tuple((int(n), int(op)) for n, op in h.cigar))

    def query_interval(self, read_len: int) -> tuple[int, int]:
        """Query interval in the reference's orientation."""
        return (self.q_st, self.q_en) if self.strand == 1 else (read_len - self.q_en, read_len - self.q_st)


def _gapped_deletions(piece: _Piece, min_size: int, merge_distance: int) -> list[Deletion]:
    """D runs of one alignment, runs ≤ merge_distance reference bases apart merged; size = sum of D."""
    out: list[Deletion] = []
    cur: list[int] | None = None  # [start, end, deleted bases]
    r = piece.r_st
    for length, op in piece.cigar:
        if op == 2:
            if cur is not None and r - cur[1] <= merge_distance:
                cur[1], cur[2] = r + length, cur[2] + length
            else:
                if cur is not None and cur[2] >= min_size:
                    out.append(Deletion(cur[0], cur[1], cur[2], "gapped"))
                cur = [r, r + length, length]
            r += length
        elif op in (0, 7, 8):
            r += length
    if cur is not None and cur[2] >= min_size:
        out.append(Deletion(cur[0], cur[1], cur[2], "gapped"))
    return out


def _map_pieces(aligner: mappy.Aligner, seq: str, buf: mappy.ThreadBuffer | None, rescue_clip: int
                ) -> list[_Piece]:
    """Primary and supplementary pieces of a read; clipped ends ≥ ``rescue_clip`` bp are re-mapped alone.

    minimap2 sometimes drops the short flank of a read with a kilobase deletion (the supplementary
    chain scores too low next to the long primary); mapping the clipped end by itself recovers it.
    """
    hits = list(aligner.map(seq, buf=buf))
    if not hits:
        return []
    primary = next((h for h in hits if h.is_primary), hits[0])
    pieces = [_Piece.from_hit(primary)]
    n = len(seq)

    def add(candidates: list[_Piece]) -> None:
        for p in sorted(candidates, key=lambda p: -p.mlen):
            if p.strand != pieces[0].strand:
                continue
            if all(_overlap((p.q_st, p.q_en), (k.q_st, k.q_en)) < 0.2 * (p.q_en - p.q_st) for k in pieces):
                pieces.append(p)

    add([_Piece.from_hit(h) for h in hits if h is not primary])
    lo, hi = min(p.q_st for p in pieces), max(p.q_en for p in pieces)
    if lo >= rescue_clip:
        add([_Piece.from_hit(h) for h in aligner.map(seq[:lo], buf=buf)])
    if n - hi >= rescue_clip:
        add([_Piece.from_hit(h, offset=hi) for h in aligner.map(seq[hi:], buf=buf)])
    return pieces


def call_read(pieces: list[_Piece], read_len: int, ref_len: int, *, min_size: int = 50,
              merge_distance: int = 10, end_tolerance: int = 100) -> tuple[bool, bool, Deletion | None]:
    """(aligned, spanning, largest deletion ≥ min_size) of one read from its alignment pieces."""
    if not pieces:
        return False, False, None
    pieces = sorted(pieces, key=lambda p: p.r_st)
    spanning = pieces[0].r_st <= end_tolerance and max(p.r_en for p in pieces) >= ref_len - end_tolerance
    dels: list[Deletion] = []
    for p in pieces:
        dels.extend(_gapped_deletions(p, min_size, merge_distance))
    for a, b in zip(pieces, pieces[1:], strict=False):
        qa, qb = a.query_interval(read_len), b.query_interval(read_len)
        if qb[0] < qa[0] or b.r_st < a.r_en - 50:  # not collinear: a rearrangement, not a deletion
            continue
        size = (b.r_st - a.r_en) - (qb[0] - qa[1])
        if size >= min_size:
            dels.append(Deletion(a.r_en, b.r_st, size, "split"))
    best = max(dels, key=lambda d: d.size) if dels else None
    return True, spanning, best


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def size_histogram(sizes: list[int], bins: tuple[int, ...] = SIZE_BINS) -> dict[str, int]:
    """Counts per size class: ``50-99``, ``100-249``, ..., ``>=5000``."""
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(bins, bins[1:], strict=False)] + [f">={bins[-1]}"]
    counts = dict.fromkeys(labels, 0)
    for s in sizes:
        for k, (lo, label) in enumerate(zip(bins, labels, strict=True)):
            hi = bins[k + 1] if k + 1 < len(bins) else None
            if s >= lo and (hi is None or s < hi):
                counts[label] += 1
                break
    return counts


def call_large_deletions(
    reads: str | Path,
    reference: str | Path,
    *,
    min_size: int = 50,
    merge_distance: int = 10,
    end_tolerance: int = 100,
    preset: str = "map-ont",
    threads: int = 1,
    min_spanning_reads: int = 100,
    rescue_clip: int = 100,
    chunk_size: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> LargeDeletionResult:
    """Align long amplicon reads to the amplicon (one FASTA record) and call large deletions per read.

    The whole file is one chunk of :func:`setup_deletions`, :func:`call_reads` and :func:`summarize`;
    ``progress(n)`` (a plain callable) hears of each chunk's reads as they are called.
    """
    setup = setup_deletions(reference, min_size=min_size, merge_distance=merge_distance,
                            end_tolerance=end_tolerance, preset=preset, min_spanning_reads=min_spanning_reads,
                            rescue_clip=rescue_clip)
    calls = call_reads(setup, reads, threads=threads, chunk_size=chunk_size, progress=progress)
    return summarize(setup, calls, reads)


_ALIGNERS: dict[tuple[str, str], mappy.Aligner] = {}  # per process, by (amplicon digest, preset)


def setup_deletions(
    reference: str | Path,
    *,
    min_size: int = 50,
    merge_distance: int = 10,
    end_tolerance: int = 100,
    preset: str = "map-ont",
    min_spanning_reads: int = 100,
    rescue_clip: int = 100,
) -> DeletionSetup:
    """Check the amplicon (one FASTA record, indexable by minimap2) and the options; plain data for the chunks
    (this process keeps the minimap2 index, other processes build it once from the reference file)."""
    reference = Path(reference)
    refs = list(read_fasta(reference))
    if len(refs) != 1:
        raise InputError(f"expected one amplicon sequence, found {len(refs)}", file=reference)
    ref_name, ref_seq = refs[0]
    if min_size < 1 or end_tolerance < 0 or merge_distance < 0:
        raise InputError("min_size must be >= 1, end_tolerance and merge_distance >= 0", place="parameters")
    setup = DeletionSetup(str(reference), hashlib.sha256(ref_seq.upper()).hexdigest(), ref_name, len(ref_seq),
                          min_size, merge_distance, end_tolerance, preset, min_spanning_reads, rescue_clip)
    _aligner(setup, ref_seq)
    return setup


def _aligner(setup: DeletionSetup, ref_seq: bytes | None = None) -> mappy.Aligner:
    key = (setup.digest, setup.preset)
    aligner = _ALIGNERS.get(key)
    if aligner is None:
        if ref_seq is None:
            ref_seq = next(read_fasta(setup.reference))[1]
        aligner = mappy.Aligner(seq=ref_seq.decode().upper(), preset=setup.preset)
        if not aligner:
            raise InputError(f"minimap2 could not index the amplicon (preset {setup.preset!r})",
                             file=setup.reference)
        if len(_ALIGNERS) >= 8:  # a long-lived worker serving many lots keeps only recent amplicons
            _ALIGNERS.clear()
        _ALIGNERS[key] = aligner
    return aligner


def call_reads(setup: DeletionSetup, reads: str | Path, *, threads: int = 1, chunk_size: int = 2000,
               progress: Callable[[int], None] | None = None) -> list[ReadCall]:
    """The call of every read of a file (or a chunk of one), in file order; ``progress(n)`` per chunk."""
    aligner = _aligner(setup)
    local = threading.local()

    def work(rec: tuple[str, str]) -> ReadCall:
        if not hasattr(local, "buf"):
            local.buf = mappy.ThreadBuffer()
        pieces = _map_pieces(aligner, rec[1], local.buf, setup.rescue_clip)
        aligned, spanning, best = call_read(pieces, len(rec[1]), setup.ref_len, min_size=setup.min_size,
                                            merge_distance=setup.merge_distance,
                                            end_tolerance=setup.end_tolerance)
        return ReadCall(rec[0], aligned, spanning, best)

    calls: list[ReadCall] = []
    with ThreadPoolExecutor(max(1, threads)) as pool:
        for chunk in chunked(read_long_reads(reads), chunk_size):
            calls.extend(pool.map(work, chunk) if threads > 1 else map(work, chunk))
            if progress is not None:
                progress(len(chunk))
    return calls


def summarize(setup: DeletionSetup, calls: list[ReadCall], reads: str | Path) -> LargeDeletionResult:
    """The sample's result from the calls of all its reads in file order (provenance: the original file)."""
    spanning = [c for c in calls if c.spanning]
    with_del = [c for c in spanning if c.deletion is not None]
    prop = proportion(len(with_del), len(spanning))
    n_aligned = sum(c.aligned for c in calls)
    min_spanning = setup.min_spanning_reads
    checks = [
        ValidityCheck("min_spanning_reads", len(spanning) >= min_spanning,
                      f"{len(spanning)} reads span the amplicon (minimum {min_spanning})"),
        ValidityCheck("aligned_fraction", n_aligned >= 0.8 * len(calls),
                      f"{n_aligned}/{len(calls)} reads aligned (minimum 80%)"),
    ]
    params = {"min_size": setup.min_size, "merge_distance": setup.merge_distance,
              "end_tolerance": setup.end_tolerance, "preset": setup.preset, "rescue_clip": setup.rescue_clip,
              "min_spanning_reads": min_spanning,
              "aligner": f"minimap2 (mappy {getattr(mappy, '__version__', '?')})"}
    from cgtqc import __version__

    prov = Provenance(ENGINE, __version__, params, [file_input(reads), file_input(setup.reference)])
    return LargeDeletionResult(setup.ref_name, len(calls), n_aligned, len(spanning), prop,
                               size_histogram([c.deletion.size for c in with_del]), calls, prov, checks)
