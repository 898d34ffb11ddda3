"""Streaming readers for long reads: FASTQ, gzipped FASTQ, FASTA and unaligned or aligned BAM.

FASTQ goes through the project's one FASTQ reader (:mod:`cgtqc.seq.fastq`); FASTA and BAM through pysam.
Reads come out in chunks of a fixed number of reads, so memory stays bounded by one chunk (times the
number of chunks in flight) whatever the file size. Each read is a ``Read`` (name, sequence, quality);
aligned BAM records of one read (primary, supplementary, secondary) are grouped by name, which needs a
BAM grouped by read name (minimap2 output order or ``samtools sort -n``); a group that reappears later
raises an InputError instead of silently splitting a read.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, TextIO

import pysam

from cgtqc.errors import InputError
from cgtqc.seq.fastq import chunked, fastx_kind, iter_fastq_reads

FASTQ_SUFFIXES = (".fastq", ".fq", ".fastq.gz", ".fq.gz", ".fasta", ".fa", ".fasta.gz", ".fa.gz", ".fna")
_BASES = set("ACGTNacgtn")


class Read(NamedTuple):
    """One sequencing read: name, bases (upper case) and Phred quality string ('' when absent)."""

    name: str
    seq: str
    qual: str = ""


def open_text_output(path: str | Path, compresslevel: int = 1) -> TextIO:
    """Open a text file for writing, gzipped when the name ends in .gz, with no timestamp in the gzip
    header: the same content gives the same bytes and the same SHA-256 in provenance."""
    p = Path(path)
    if p.suffix != ".gz":
        return open(p, "w")
    raw = gzip.GzipFile(filename="", mode="wb", fileobj=open(p, "wb"), mtime=0, compresslevel=compresslevel)
    return _ClosingText(raw)


class _ClosingText(io.TextIOWrapper):
    """A text wrapper over a GzipFile that also closes the file object underneath."""

    def __init__(self, raw: gzip.GzipFile) -> None:
        super().__init__(raw, encoding="ascii")
        self._file = raw.fileobj

    def close(self) -> None:
        super().close()
        if self._file is not None:
            self._file.close()


def read_format(path: str | Path) -> str:
    """'bam' or 'fastx' from the file's magic bytes and name; InputError for anything else."""
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", file=p)
    with open(p, "rb") as fh:
        head = fh.read(4)
    if not head:
        raise InputError("no reads (empty file)", file=p)
    if head[:2] == b"\x1f\x8b":
        with gzip.open(p, "rb") as fh:
            try:
                inner = fh.read(4)
            except (OSError, EOFError, zlib.error) as exc:
                raise InputError(f"corrupt gzip stream ({exc})", file=p) from exc
        if inner == b"BAM\x01":
            return "bam"
        if inner[:1] in (b"@", b">"):
            return "fastx"
        raise InputError("gzip file is neither BAM nor FASTQ/FASTA", file=p)
    if p.name.endswith(".sam") or head[:4] in (b"@HD\t", b"@SQ\t", b"@PG\t", b"@RG\t", b"@CO\t"):
        return "bam"  # SAM text, read through pysam like BAM
    if head[:1] in (b"@", b">"):
        return "fastx"
    raise InputError("unknown read format (expected BAM, FASTQ, FASTQ.gz or FASTA)", file=p, place="byte 0")


def _mode(p: Path) -> str:
    return "r" if p.name.endswith(".sam") else "rb"


def _check_seq(seq: str, path: Path, n: int, name: str) -> str:
    if not seq:
        raise InputError("empty sequence", file=path, place=f"record {n} ({name})")
    if not set(seq) <= _BASES:
        bad = sorted(set(seq) - _BASES)[:3]
        raise InputError(f"non-nucleotide characters {bad}", file=path, place=f"record {n} ({name})")
    return seq.upper()


def iter_fastx(path: str | Path) -> Iterator[Read]:
    """Stream reads from FASTQ/FASTA (plain or gzipped), validating each record; bases in upper case."""
    p = Path(path)
    if fastx_kind(p) == "fasta":
        yield from _iter_fasta(p)
        return
    for name, seq, qual in iter_fastq_reads(p):
        yield Read(name, seq.upper(), qual)


def _iter_fasta(p: Path) -> Iterator[Read]:
    n = 0
    try:
        with pysam.FastxFile(str(p)) as fh:
            for rec in fh:
                n += 1
                yield Read(rec.name, _check_seq(rec.sequence or "", p, n, rec.name))
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable FASTA ({exc})", file=p, place=f"after record {n}") from exc


def iter_bam_reads(path: str | Path) -> Iterator[Read]:
    """Stream reads from a BAM (aligned or not): one Read per primary or unmapped record."""
    p = Path(path)
    n = 0
    try:
        with pysam.AlignmentFile(str(p), _mode(p), check_sq=False) as bam:
            for rec in bam:
                n += 1
                if rec.is_secondary or rec.is_supplementary:
                    continue
                seq = rec.query_sequence or ""
                qual = rec.qual or ""
                if rec.is_reverse:
                    seq = _revcomp(seq)
                    qual = qual[::-1]
                yield Read(rec.query_name, _check_seq(seq, p, n, rec.query_name), qual)
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable BAM ({exc})", file=p, place=f"after record {n}") from exc


_COMP = str.maketrans("ACGTNacgtn", "TGCANtgcan")


def _revcomp(seq: str) -> str:
    return seq.translate(_COMP)[::-1]


def revcomp(seq: str) -> str:
    """Reverse complement of a DNA string (N stays N)."""
    return _revcomp(seq)


def iter_reads(path: str | Path) -> Iterator[Read]:
    """Stream reads from any supported file (format sniffed from content)."""
    fmt = read_format(path)
    return iter_bam_reads(path) if fmt == "bam" else iter_fastx(path)


def iter_read_chunks(path: str | Path, chunk_size: int = 2000) -> Iterator[list[Read]]:
    """Reads of a file in chunks of ``chunk_size``."""
    return chunked(iter_reads(path), chunk_size)


def bam_is_aligned(path: str | Path) -> bool:
    """True when the BAM header lists reference sequences and a mapped record exists early on."""
    p = Path(path)
    try:
        with pysam.AlignmentFile(str(p), _mode(p), check_sq=False) as bam:
            if not bam.header.references:
                return False
            for i, rec in enumerate(bam):
                if not rec.is_unmapped:
                    return True
                if i > 1000:
                    break
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable BAM ({exc})", file=p) from exc
    return False


def iter_bam_groups(path: str | Path) -> Iterator[list[pysam.AlignedSegment]]:
    """Records of an aligned BAM grouped by read name (the file must be grouped by name)."""
    p = Path(path)
    seen: set[str] = set()
    group: list[pysam.AlignedSegment] = []
    n = 0
    try:
        with pysam.AlignmentFile(str(p), _mode(p), check_sq=False) as bam:
            for rec in bam:
                n += 1
                if group and rec.query_name != group[0].query_name:
                    yield group
                    if len(seen) < 200_000:  # bounded memory: checks the first 200,000 names
                        seen.add(group[0].query_name)
                    group = []
                if not group and rec.query_name in seen:
                    raise InputError(
                        "BAM is not grouped by read name (sort with samtools sort -n)",
                        file=p,
                        place=f"record {n} ({rec.query_name})",
                    )
                group.append(rec)
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable BAM ({exc})", file=p, place=f"after record {n}") from exc
    if group:
        yield group
