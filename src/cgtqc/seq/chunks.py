"""Split reads files into chunks that respect record boundaries, for the lot runner's distributed engines.

A sequencing engine declares :class:`cgtqc.engines.Chunking`; the runner calls :func:`split_reads` once, then
the engine's ``work`` on every :class:`ReadChunk` (in any process, on any Dask worker) and ``merge`` on the
partial results in chunk order. Every read lands in exactly one chunk:

* FASTQ and FASTA (plain or gzipped): whole records, read with the project's checked readers, so a malformed
  record is reported against the original file and line before any work starts; FASTQ records are copied
  as written (whole header, letter case, empty reads);
* BAM/SAM: whole records with the header kept; in an aligned BAM all records of one read (primary,
  supplementary, secondary) stay together;
* mate files given under two kinds (``fastq`` and ``fastq-r2``) are cut at the same record numbers.

Each chunk is written as a small file of the same format under ``work_dir`` (deterministic bytes: the same
input and chunk size give the same files), so workers open chunks with the ordinary readers and need a shared
folder, not a copy of the reads in every task message. With ``chunk_reads=None`` the chunk is the original
file itself and nothing is copied. Results never name chunk files: ``merge`` builds provenance from the
original inputs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import pysam

from cgtqc.errors import InputError
from cgtqc.results import atomic_write
from cgtqc.seq.fastq import chunked, fastx_kind, read_chunks
from cgtqc.seq.reads import bam_is_aligned, iter_bam_groups, iter_reads, read_format


@dataclass(frozen=True)
class ReadChunk:
    """One chunk of reads: ``files`` maps each split input kind to this chunk's file."""

    source: int  # which file of the split kind (one sample per file for engines that take several)
    index: int  # position of the chunk within its source file
    files: dict[str, str]
    n_reads: int
    first_read: int  # 0-based number of the chunk's first read (or read group) in the source file


def split_reads(
    inputs: Mapping[str, list[Path]],
    kinds: tuple[str, ...],
    chunk_reads: int | None,
    work_dir: Path,
) -> list[ReadChunk]:
    """Chunks of the files of ``kinds`` (the first kind leads; the others are its mates, file by file)."""
    lead, mates = kinds[0], kinds[1:]
    leads = [Path(p) for p in inputs.get(lead, [])]
    for kind in mates:
        if kind in inputs and len(inputs[kind]) != len(leads):
            raise InputError(f"{len(inputs[kind])} {kind!r} files for {len(leads)} {lead!r} files")
    if chunk_reads is not None and chunk_reads < 1:
        raise InputError(f"chunk size must be at least 1 read, not {chunk_reads}")
    chunks: list[ReadChunk] = []
    for source, path in enumerate(leads):
        mate_paths = {k: Path(inputs[k][source]) for k in mates if k in inputs}
        if chunk_reads is None:
            files = {lead: str(path), **{k: str(p) for k, p in mate_paths.items()}}
            chunks.append(ReadChunk(source, 0, files, -1, 0))
            continue
        chunks.extend(_split_file(source, lead, path, mate_paths, chunk_reads, Path(work_dir)))
    return chunks


def _folder(work_dir: Path, path: Path, chunk_reads: int) -> Path:
    """A folder per (file content, chunk size): re-splitting the same file reuses nothing stale."""
    st = path.stat()
    h = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{chunk_reads}".encode())
    folder = work_dir / f"{path.name.split('.')[0]}-{h.hexdigest()[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _split_file(
    source: int, lead: str, path: Path, mates: dict[str, Path], chunk_reads: int, work_dir: Path
) -> list[ReadChunk]:
    fmt = read_format(path)
    if fmt == "bam":
        if mates:
            raise InputError("mate files are only supported for FASTQ", file=path)
        return _split_bam(source, lead, path, chunk_reads, work_dir)
    paths = {lead: path, **mates}
    fastq = {k: fastx_kind(p) == "fastq" for k, p in paths.items()}
    streams = {k: _fastq_batches(p, chunk_reads) if fastq[k] else _fasta_batches(p, chunk_reads)
               for k, p in paths.items()}
    folder = _folder(work_dir, path, chunk_reads)
    chunks: list[ReadChunk] = []
    index, first = 0, 0
    while True:
        batch = {k: next(s, None) for k, s in streams.items()}
        n = len(batch[lead][0]) if batch[lead] else 0
        for k, b in batch.items():
            m = len(b[0]) if b else 0
            if k != lead and m != n:
                raise InputError(f"mate files differ in length (after read {first + min(n, m)})",
                                 file=mates[k] if m < n else path)
        if n == 0:
            break
        files = {}
        for k, b in batch.items():
            out = folder / f"{k}-{index:06d}{'.fastq' if fastq[k] else '.fasta'}"
            atomic_write(out, _fastq_text(*b) if fastq[k] else _fasta_text(*b))
            files[k] = str(out)
        chunks.append(ReadChunk(source, index, files, n, first))
        index, first = index + 1, first + n
    if not chunks:
        raise InputError("no reads", file=path)
    return chunks


def _fastq_batches(path: Path, size: int) -> Iterator[tuple[list[str], list[str], list[str]]]:
    """Exactly ``size`` records per batch (the last may be short) as parallel lists of header, sequence and
    quality lines, exactly as written, from the checked block reader (no object per read)."""
    heads: list[str] = []
    seqs: list[str] = []
    quals: list[str] = []
    for block in read_chunks(path, max(size, 10_000)):
        heads += block.headers
        seqs += block.sequences
        quals += block.qualities
        while len(heads) >= size:
            yield heads[:size], seqs[:size], quals[:size]
            del heads[:size], seqs[:size], quals[:size]
    if heads:
        yield heads, seqs, quals


def _fasta_batches(path: Path, size: int) -> Iterator[tuple[list[str], list[str]]]:
    for batch in chunked(iter_reads(path), size):
        yield [r.name for r in batch], [r.seq for r in batch]


def _fastq_text(heads: list[str], seqs: list[str], quals: list[str]) -> str:
    lines = [""] * (4 * len(heads))
    lines[0::4], lines[1::4], lines[3::4] = heads, seqs, quals
    lines[2::4] = ["+"] * len(heads)
    return "\n".join(lines) + "\n"


def _fasta_text(names: list[str], seqs: list[str]) -> str:
    return "".join(f">{n}\n{s}\n" for n, s in zip(names, seqs, strict=True))



def _split_bam(source: int, lead: str, path: Path, chunk_reads: int, work_dir: Path) -> list[ReadChunk]:
    folder = _folder(work_dir, path, chunk_reads)
    aligned = bam_is_aligned(path)
    with pysam.AlignmentFile(str(path), "rb" if path.suffix != ".sam" else "r", check_sq=False) as bam:
        header = bam.header
    groups = iter_bam_groups(path) if aligned else ([rec] for rec in _bam_records(path))
    chunks: list[ReadChunk] = []
    index, first = 0, 0
    while True:
        batch = list(islice(groups, chunk_reads))
        if not batch:
            break
        out = folder / f"{lead}-{index:06d}.bam"
        tmp = out.with_name(out.name + ".part")
        with pysam.AlignmentFile(str(tmp), "wb", header=header) as w:
            for group in batch:
                for rec in group:
                    w.write(rec)
        tmp.replace(out)
        chunks.append(ReadChunk(source, index, {lead: str(out)}, len(batch), first))
        index, first = index + 1, first + len(batch)
    if not chunks:
        raise InputError("no reads", file=path)
    return chunks


def _bam_records(path: Path) -> Iterator[pysam.AlignedSegment]:
    n = 0
    try:
        with pysam.AlignmentFile(str(path), "rb" if path.suffix != ".sam" else "r", check_sq=False) as bam:
            for rec in bam:
                n += 1
                yield rec
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable BAM ({exc})", file=path, place=f"after record {n}") from exc

