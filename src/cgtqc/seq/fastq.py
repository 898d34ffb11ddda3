"""The one FASTQ reader (plain or gzip) of the sequencing engines, and CRISPResso2's paired-read consensus.

Every engine reads FASTQ through this module: the editing engine's fast paths (:func:`read_chunks`,
:func:`count_sequences`), the checked records (:func:`read_fastq`, :func:`read_pairs`) and the long-read
engines' reads (:func:`iter_fastq_reads`, used by ``cgtqc.seq.reads`` and the large-deletion engine).
Records are 4 lines (``@`` header, sequence, ``+`` separator, quality of the sequence's length, bases
A, C, G, T, N in either case); CR-LF line ends, stray spaces at line ends and blank lines at the end of
the file are tolerated. A bad record raises :class:`InputError` naming the file, the record number and
its first line. Reads come in chunks so memory stays bounded by the chunk size whatever the file size;
:func:`chunked` groups any stream of reads the same way.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import TypeVar

from cgtqc.errors import InputError

_ALPHABET = frozenset("ACGTNacgtn")
_BASES = b"ACGTNacgtn"
_READ_ERRORS = (OSError, EOFError, UnicodeDecodeError, zlib.error)  # zlib.error: a corrupt gzip stream
_T = TypeVar("_T")


@dataclass(frozen=True)
class FastqRecord:
    """One read: name (header without '@'), sequence, quality string."""

    name: str
    sequence: str
    quality: str


def chunked(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """Group an iterator into lists of at most ``size`` items (bounded memory)."""
    if size < 1:
        raise ValueError("chunk size must be >= 1")
    chunk: list[_T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def fastx_kind(path: str | Path) -> str:
    """'fasta' when the first non-blank character of the (plain or gzipped) file is '>', else 'fastq'.

    InputError for a missing, unreadable or empty file.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=path)
    try:
        with gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb") as fh:
            while block := fh.read(1 << 16):
                text = _decode(block).lstrip()
                if text:
                    return "fasta" if text.startswith(">") else "fastq"
    except _READ_ERRORS as exc:
        raise InputError(f"cannot read: {exc}", file=path) from exc
    raise InputError("no reads (empty file)", file=path)


def read_fastq(path: str | Path) -> Iterator[FastqRecord]:
    """Yield the records of a FASTQ file, validating each one."""
    for chunk in read_chunks(path, 10_000):
        yield from map(FastqRecord, chunk.names, chunk.sequences, chunk.qualities)


def iter_fastq_reads(path: str | Path, size: int = 1000) -> Iterator[tuple[str, str, str]]:
    """(read id, sequence, quality) of each record, sequences as in the file; empty sequences refused.

    The read id is the header up to its first white space (as pysam and minimap2 name reads).
    """
    for chunk in read_chunks(path, size, allow_empty=False):
        yield from zip(chunk.ids, chunk.sequences, chunk.qualities, strict=True)


def _read_id(header: str) -> str:
    name = header[1:]
    return name.split(None, 1)[0] if name[:1] and not name[:1].isspace() else ""


@dataclass
class FastqChunk:
    """Consecutive records as parallel lists (names without '@')."""

    first_record: int  # 1-based number of the first record in the file
    headers: list[str]  # header lines as read ('@name comment')
    sequences: list[str]
    qualities: list[str]

    @property
    def names(self) -> list[str]:
        """Headers without '@' (name and comment)."""
        return [h[1:].strip() for h in self.headers]

    @property
    def ids(self) -> list[str]:
        """Read ids: headers without '@' up to the first white space."""
        return list(map(_read_id, self.headers))

    def __len__(self) -> int:
        return len(self.sequences)


def _text_blocks(path: Path, digest) -> Iterator[str]:
    """The file's text in large blocks (gzip or plain; CR-LF read as LF).

    For a plain file ``digest`` (a hashlib object, or None) is fed the raw bytes as they are read,
    so the provenance hash costs no second pass.
    """
    if _is_gzip(path):
        with gzip.open(path, "rb") as fh:
            while block := fh.read(1 << 22):
                yield _decode(block)
        return
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            if digest is not None:
                digest.update(block)
            yield _decode(block)


def _decode(block: bytes) -> str:
    text = block.decode("ascii", "replace")
    return text.replace("\r", "") if "\r" in text else text


def _blank_tail(lines: list[str], end: int) -> int:
    """Where the blank lines that end ``lines[:end]`` start, moved on to a record's first line.

    Blank lines count as the end of the file only from a header's place on (the quality line of an
    empty read is blank too), as a record-by-record reader sees them.
    """
    k = end
    while k and not lines[k - 1].strip():
        k -= 1
    return min(-(-k // 4) * 4, end)


def _line_blocks(blocks: Iterator[str], size: int) -> Iterator[list[str]]:
    """Lists of complete lines (a multiple of 4 except maybe the last), read in large blocks.

    Blank lines at the end of the file are dropped (from a record boundary on); blank lines that may be
    the file's end are held back until more text shows they are not.
    """
    pending: list[str] = []
    tail = ""
    while True:
        block = next(blocks, "")
        if not block:
            if tail:
                pending.append(tail)
            del pending[_blank_tail(pending, len(pending)) :]
            if pending:
                yield pending
            return
        lines = (tail + block).split("\n")
        tail = lines.pop()
        pending.extend(lines)
        if len(pending) >= 4 * size:
            cut = _blank_tail(pending, len(pending) - len(pending) % 4)
            if cut:
                yield pending[:cut]
                pending = pending[cut:]


def read_chunks(
    path: str | Path, size: int = 100_000, digest=None, *, allow_empty: bool = True
) -> Iterator[FastqChunk]:
    """Validated records in chunks of about ``size``: memory is bounded by the chunk, not the file.

    Lines are read in large blocks and checked list-wise (fast); the first bad record is then
    located and reported with its number and line. ``digest`` (hashlib object) receives the raw
    bytes of a plain (not gzip) file. ``allow_empty=False`` refuses records with an empty sequence.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=path)
    first = 1
    try:
        for lines in _line_blocks(_text_blocks(path, digest), size):
            end = len(lines) - len(lines) % 4  # complete records (the last chunk may end in a truncated one)
            heads = lines[0:end:4]
            seqs = lines[1:end:4]
            pluses = lines[2:end:4]
            quals = lines[3:end:4]
            if not _chunk_ok(heads, pluses, seqs, quals, allow_empty):
                # stray spaces at line ends are allowed (as CRISPResso2 strips them)
                seqs = list(map(str.strip, seqs))
                quals = list(map(str.strip, quals))
                if not _chunk_ok(heads, pluses, seqs, quals, allow_empty):
                    _locate_error(path, first, heads, pluses, seqs, quals, allow_empty)
            if end < len(lines):
                n = first + len(heads)
                raise InputError("truncated record (fewer than 4 lines)", file=path, place=_place(n))
            yield FastqChunk(first, heads, seqs, quals)
            first += len(heads)
    except _READ_ERRORS as exc:
        raise InputError(f"cannot read: {exc}", file=path, place=f"after record {first - 1}") from exc


@dataclass
class SequenceCounts:
    """Distinct read sequences of a FASTQ file with their numbers of reads, in first-seen order."""

    counts: dict[str, int]
    reads: int
    max_len: int
    sha256: str | None  # of the file's bytes; None for gzip files (hash those with file_input)


def count_sequences(
    path: str | Path, chunk_size: int = 20_000, on_new: Callable[[list[str]], None] | None = None
) -> SequenceCounts:
    """Count the distinct sequences of a (validated) FASTQ file in one pass, hashing it as it is read.

    ``on_new`` hears of the distinct sequences as the fast path first meets them (in first-seen order,
    block by block), so a caller can start work on them before the file is read; when the fast path gives
    up (see below), what it heard is not the result: the returned counts are.

    Works on raw bytes blocks in compiled code (no per-record objects): records are validated with the
    same rules as :func:`read_chunks`. Files the fast checks do not accept as they stand (CR-LF
    line ends, stray spaces, or an error to report) are read again with :func:`read_chunks`,
    which tolerates the former and names the record of the latter.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=path)
    fast = _count_bytes(path, on_new)
    if fast is not None:
        return fast
    digest = hashlib.sha256()
    counts: Counter[str] = Counter()
    n = 0
    max_len = 0
    for chunk in read_chunks(path, chunk_size, digest):
        counts.update(chunk.sequences)
        max_len = max(max_len, max(map(len, chunk.sequences)))
        n += len(chunk)
    return SequenceCounts(counts, n, max_len, None if _is_gzip(path) else digest.hexdigest())


def _count_bytes(path: Path, on_new: Callable[[list[str]], None] | None = None) -> SequenceCounts | None:
    """The fast path of :func:`count_sequences` (compiled: :class:`cgtqc.seq._fastq.SequenceCounter`); None
    when a block fails its checks. The raw bytes are hashed block by block as they are read, while the block
    is still in the processor's cache."""
    from cgtqc.seq._fastq import SequenceCounter

    gz = _is_gzip(path)
    digest = None if gz else hashlib.sha256()
    counter = SequenceCounter()
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb", buffering=0) as fh:
            while True:
                block = fh.read(1 << 20)
                if digest is not None:
                    digest.update(block)
                new = counter.feed(block)
                if new is None:
                    return None
                if new and on_new is not None:
                    on_new(new)
                if not block:
                    break
    except (OSError, EOFError, zlib.error):
        return None  # reported, with its place, by the checked path
    counts, n, max_len = counter.result()
    return SequenceCounts(counts, n, max_len, digest.hexdigest() if digest is not None else None)


def _chunk_ok(
    heads: list[str], pluses: list[str], seqs: list[str], quals: list[str], allow_empty: bool = True
) -> bool:
    return (
        all(map(str.startswith, heads, repeat("@")))
        and all(map(str.startswith, pluses, repeat("+")))
        and list(map(len, seqs)) == list(map(len, quals))
        and not "".join(seqs).encode("ascii", "replace").translate(None, _BASES)
        and (allow_empty or all(seqs))
    )


def _locate_error(
    path: Path,
    first: int,
    heads: list[str],
    pluses: list[str],
    seqs: list[str],
    quals: list[str],
    allow_empty: bool = True,
) -> None:
    for k, (h, p, s, q) in enumerate(zip(heads, pluses, seqs, quals, strict=True)):
        n = first + k
        if not h.strip():
            raise InputError("blank line inside the file", file=path, place=_place(n))
        if not h.startswith("@"):
            raise InputError(
                f"header does not start with '@': {h.strip()[:40]!r}", file=path, place=_place(n)
            )
        if not p.startswith("+"):
            raise InputError(
                f"third line does not start with '+': {p.strip()[:40]!r}", file=path, place=_place(n, 2)
            )
        if len(s) != len(q):
            raise InputError(
                f"sequence length {len(s)} differs from quality length {len(q)}",
                file=path,
                place=_place(n, 3),
            )
        bad = set(s) - _ALPHABET
        if bad:
            raise InputError(
                f"sequence has characters other than A, C, G, T, N: {''.join(sorted(bad))!r}",
                file=path,
                place=_place(n, 1),
            )
        if not s and not allow_empty:
            raise InputError("empty sequence", file=path, place=_place(n, 1))


def _place(record: int, line: int = 0) -> str:
    """'record N, line L': the record's number and the file line at fault (``line`` of its 4, from 0)."""
    return f"record {record}, line {4 * (record - 1) + 1 + line}"


def _pair_name(name: str) -> str:
    first = name.split()[0] if name.split() else name
    if first.endswith(("/1", "/2")):
        first = first[:-2]
    return first


def read_pairs(path1: str | Path, path2: str | Path) -> Iterator[tuple[FastqRecord, FastqRecord]]:
    """Yield (R1, R2) records; the two files must list the same reads in the same order."""
    it1 = read_fastq(path1)
    it2 = read_fastq(path2)
    n = 0
    while True:
        r1 = next(it1, None)
        r2 = next(it2, None)
        if r1 is None and r2 is None:
            return
        n += 1
        if r1 is None or r2 is None:
            short, other = (path1, path2) if r1 is None else (path2, path1)
            raise InputError(
                f"ends after {n - 1} reads but {Path(other).name} has more (mismatched pairs)",
                file=short,
                place=f"record {n}",
            )
        if _pair_name(r1.name) != _pair_name(r2.name):
            raise InputError(
                f"read names differ between the pair files: {r1.name.split()[0]!r} vs "
                f"{r2.name.split()[0]!r} (mismatched pairs)",
                file=path2,
                place=f"record {n}",
            )
        yield r1, r2


def _greater_qual(n1: str, q1: str, n2: str, q2: str, r1_best: bool) -> tuple[str, bool, str]:
    if n1 == n2:
        return n1, False, (q1 if ord(q1) >= ord(q2) else q2)
    if ord(q1) == ord(q2):
        return (n1 if r1_best else n2), True, q2
    if ord(q1) > ord(q2):
        return n1, True, q1
    return n2, True, q2


def consensus_from_pairs(
    aln1: str, ref1: str, score1: float, qual1: str, aln2: str, ref2: str, score2: float, qual2: str
) -> tuple[str, str, str, float, bool]:
    """Merge two reads aligned to the same reference into one alignment (CRISPResso2's rule).

    Where both reads cover a base and disagree, the higher quality wins (ties: the read with the
    better alignment score). Gaps inside a read's span stay gaps; reference bases that neither read
    covers become N. Returns (aligned read, quality, aligned reference, identity score, cacheable),
    cacheable being False when a base was chosen by quality.
    """
    i1 = i2 = q1i = q2i = 0
    start1 = len(aln1) - len(aln1.lstrip("-"))
    start2 = len(aln2) - len(aln2.lstrip("-"))
    stop1 = len(aln1.rstrip("-")) - 1
    stop2 = len(aln2.rstrip("-")) - 1
    out: list[str] = []
    ref: list[str] = []
    qual: list[str] = []
    r1_best = score1 >= score2
    cacheable = True
    n1, n2 = len(ref1), len(ref2)
    while i1 < n1 or i2 < n2:
        in1 = i1 < n1
        in2 = i2 < n2
        if in1 and ref1[i1] == "-" and in2 and ref2[i2] == "-":
            nuc, diff, q = _greater_qual(aln1[i1], qual1[q1i], aln2[i2], qual2[q2i], r1_best)
            cacheable = cacheable and not diff
            out.append(nuc)
            ref.append("-")
            qual.append(q)
            q1i += 1
            q2i += 1
            i1 += 1
            i2 += 1
            continue
        if in1 and ref1[i1] == "-":
            out.append(aln1[i1])
            ref.append("-")
            qual.append(qual1[q1i])
            q1i += 1
            i1 += 1
            continue
        if in2 and ref2[i2] == "-":
            out.append(aln2[i2])
            ref.append("-")
            qual.append(qual2[q2i])
            q2i += 1
            i2 += 1
            continue
        if in1 and aln1[i1] == "-" and in2 and aln2[i2] == "-":
            inside = start1 <= i1 <= stop1 or start2 <= i2 <= stop2
            out.append("-" if inside else "N")
            ref.append(ref1[i1])
        elif in1 and aln1[i1] == "-" and in2:
            out.append(aln2[i2])
            ref.append(ref2[i2])
            qual.append(qual2[q2i])
            q2i += 1
        elif in1 and in2 and aln2[i2] == "-":
            out.append(aln1[i1])
            ref.append(ref1[i1])
            qual.append(qual1[q1i])
            q1i += 1
        elif in1 and in2:
            nuc, diff, q = _greater_qual(aln1[i1], qual1[q1i], aln2[i2], qual2[q2i], r1_best)
            cacheable = cacheable and not diff
            out.append(nuc)
            ref.append(ref1[i1])
            qual.append(q)
            q1i += 1
            q2i += 1
        elif in1:
            out.append("N" if aln1[i1] == "-" and start1 <= i1 <= stop1 else aln1[i1])
            qual.append(qual1[q1i])
            ref.append(ref1[i1])
            q1i += 1
        else:
            out.append("N" if aln2[i2] == "-" and start2 <= i2 <= stop2 else aln2[i2])
            qual.append(qual2[q2i])
            ref.append(ref2[i2])
            q2i += 1
        i1 += 1
        i2 += 1
    a = "".join(out)
    r = "".join(ref)
    q = "".join(qual)
    lead = len(r) - len(r.lstrip("-"))
    trail = len(r) - len(r.rstrip("-"))
    a, r, q = a[lead : len(a) - trail], r[lead : len(r) - trail], q[lead : len(q) - trail]
    same = sum(1 for x, y in zip(r, a, strict=True) if x == y)
    return a, q, r, round(float(100 * same / float(len(r))), 3), cacheable
