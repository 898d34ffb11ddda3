"""The counting pipeline of the editing engine: read, collapse, call once per sequence, count.

Each distinct read (or read pair) is called once (:mod:`.calls`: the per-process Context, CRISPResso2's
classification rules) and counted in first-seen order with reverse complements merged. A file, or each
chunk of it, gives a partial result (:class:`SequenceVariants`, :class:`PairEvents`); :func:`merge_single_end`
and :func:`merge_paired` merge the partials of a file in chunk order to exactly the counts of one pass.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import cgtqc.seq.editing.prefetch as prefetch  # not "from ... import": the package forwards names lazily
from cgtqc.seq.editing.align import Aligner, _kernel, reverse_complement
from cgtqc.seq.editing.calls import Alignment, Context, Variant, classify_pair, classify_sequence
from cgtqc.seq.editing.classify import add_base_counts
from cgtqc.seq.editing.results import Allele, ReferenceCounts
from cgtqc.seq.fastq import count_sequences, read_pairs

PROGRESS_SLICE = 10_000  # distinct sequences aligned between two progress reports
PAIR_PROGRESS = 1_000  # read pairs between two progress reports

# A progress report: ``progress(n_reads_done_since_last_call, total=None)``; ``total`` once it is known.
ProgressFn = Callable[..., None]



def merged_counts(keys: list[str], counts: list[int]) -> list[int]:
    """Counts after CRISPResso2's merge of reverse complements, keys in first-seen order.

    A key whose reverse complement is also a key absorbs that key's reads (if both still have
    reads), and the other is then skipped; a palindromic key is counted twice, as in CRISPResso2.
    The pairs are found by the compiled kernel (usually none: no read seen on both strands).
    """
    merged = list(counts)
    for i, j in _kernel.rc_pairs(keys):
        if merged[i] == 0 or merged[j] == 0:
            continue
        v = merged[i] + merged[j]
        merged[j] = 0
        merged[i] = v
    return merged


def count_variants(
    ctx: Context, variants: dict[str, tuple[int, Variant]], base_counts: bool, merged: list[int] | None = None
) -> tuple[list[ReferenceCounts], int, int]:
    """Reference rows from aligned variants (in first-seen order), merging reverse complements
    (``merged``: the variants' :func:`merged_counts`, when already known)."""
    rows = [ReferenceCounts(r.name, r.sequence, r.window) for r in ctx.refs]
    scaffold_row = None
    if ctx.scaffold is not None:
        pe = ctx.refs[ctx.pe_index]
        scaffold_row = ReferenceCounts("Scaffold-incorporated", pe.sequence, pe.window)
    if base_counts:
        for r in rows + ([scaffold_row] if scaffold_row else []):
            r.base_counts = np.zeros((6, len(r.sequence)), dtype=np.int64)
    entries = list(variants.values())
    if merged is None:
        merged = merged_counts(list(variants), [c for c, _ in entries])
    # variants are often shared objects (one per call pattern): count each distinct one once
    weight: dict[int, int] = {}
    distinct: dict[int, Variant] = {}
    for (_, var), n in zip(entries, merged, strict=True):
        if n:
            key = id(var)
            weight[key] = weight.get(key, 0) + n
            distinct[key] = var
    total = sum(merged)
    ambiguous = 0
    for key, var in distinct.items():
        n = weight[key]
        _, cls, payloads = var
        if cls == -1:
            ambiguous += n
            continue
        for i, ins, dele, sub, a, b in payloads:
            row = scaffold_row if cls == -2 else rows[i]
            row.add(ins, dele, sub, n)
            if base_counts:
                add_base_counts(
                    np.frombuffer(a, dtype=np.uint8), np.frombuffer(b, dtype=np.uint8), row.base_counts, n
                )
    if scaffold_row is not None:
        rows.append(scaffold_row)
    return rows, total, ambiguous


def allele_rows(
    ctx: Context,
    variants: dict[str, tuple[int, Variant]],
    merged: list[int] | None = None,
    alignments: dict[str, Alignment] | None = None,
) -> list[Allele] | None:
    """CRISPResso2 2.3.4's allele table rows: each distinct aligned read (reverse complements merged) in
    first-seen order, as aligned to its reference; an ambiguous read once, as aligned to the first of its
    tied references, named ``AMBIGUOUS_<reference>``.

    Alignments come from ``alignments`` (kept by the kernel: :func:`alignments_of`) or the payloads; a read
    with neither is aligned again here, alone, with the same rules. Pairs merged without kept alignments
    cannot be rebuilt: None. The window calls of all rows are made in one compiled call.
    """
    keys = list(variants)
    entries = list(variants.values())
    if merged is None:
        merged = merged_counts(keys, [c for c, _ in entries])
    alns = alignments or {}
    names = [r.name for r in ctx.refs]
    includes = [r.include for r in ctx.refs]
    kept = list(map(alns.get, keys))
    n = len(keys)
    if len(ctx.refs) == 1 and ctx.scaffold is None and None not in kept:
        # one reference, every alignment kept: each aligned read is that reference's (no ties, no scaffold)
        return _kernel.allele_rows(Allele, kept, [0] * n, names * n, merged, includes, "MODIFIED",
                                   "UNMODIFIED")
    kctx = copy.copy(ctx)
    kctx.keep = True
    rows_aln: list[tuple[str, str]] = []
    rows_ref: list[int] = []
    rows_name: list[str] = []
    rows_reads: list[int] = []
    for key, (_, var), n_reads, aln in zip(keys, entries, merged, kept, strict=True):
        if not n_reads:
            continue
        cls, payloads = var[1], var[2]
        i = payloads[0][0]
        if aln is None:
            if not payloads[0][4]:
                if "+" in key or "-" in key:  # a pair key or a merged alignment: nothing to align again
                    return None
                payloads = classify_sequence(kctx, key)[2]
            aln = (payloads[0][4].decode("ascii"), payloads[0][5].decode("ascii"))
        if cls == -1:
            name = "AMBIGUOUS_" + names[i]
        else:
            name = "Scaffold-incorporated" if cls == -2 else names[i]
        rows_aln.append(aln)
        rows_ref.append(i)
        rows_name.append(name)
        rows_reads.append(n_reads)
    # the window calls of every row and the rows themselves, in one compiled call
    return _kernel.allele_rows(Allele, rows_aln, rows_ref, rows_name, rows_reads, includes, "MODIFIED",
                               "UNMODIFIED")


def alignments_of(parts: list[SequenceVariants]) -> dict[str, Alignment] | None:
    """The kept alignments of the chunks' distinct sequences (first chunk first), or None if none kept."""
    if not any(p.alignments for p in parts):
        return None
    out: dict[str, Alignment] = {}
    for p in reversed(parts):
        if p.alignments:
            out.update(zip(p.counts, p.alignments, strict=True))
    return out


# ---------------------------------------------------------------- reading, caching and merging chunks
#
# Reads are counted per chunk (the whole file, or a chunk of the lot runner) into a partial result, and the
# partials of a file are merged in chunk order. Merging the partials of any chunking gives the same numbers
# as one pass over the whole file: single-end partials hold counts per distinct sequence (summed; the first
# chunk that saw a sequence gives its first-seen position), paired partials replay CRISPResso2's cache.


@dataclass
class SequenceVariants:
    """One chunk of single-end reads: distinct sequences in first-seen order, their reads and calls."""

    path: str
    counts: dict[str, int]
    variants: list[Variant]  # the call of each distinct sequence, in the order of ``counts``
    reads: int
    max_len: int
    sha256: str | None  # of the chunk file's bytes when read on the way (plain files)
    # with ``alignments``: per distinct sequence, its alignment for the allele table (None: align again)
    alignments: list[Alignment] | None = None


@dataclass
class PairEvents:
    """One chunk of read pairs as CRISPResso2's pair cache sees it, for an exact replay across chunks.

    ``computed`` lists, in read order, every pair aligned because no earlier pair of the chunk with the
    same sequences had a cacheable alignment; ``repeats`` counts the pairs after such a cacheable pair.
    """

    reads: int
    max_len: int
    computed: list[tuple[str, Variant, bool, str]]  # (pair key, variant, cacheable, alignment key)
    repeats: dict[str, int]


def _stats(reads: int, max_len: int) -> dict[str, Any]:
    return {"reads": reads, "computed_aln": 0, "cached_aln": 0, "computed_notaln": 0, "cached_notaln": 0,
            "max_len": max_len}


def single_end(
    path: Path, ctx: Context, threads: int, chunk_size: int, reuse: bool = False,
    progress: ProgressFn | None = None, alignments: bool = False,
) -> SequenceVariants:
    """Distinct sequences of a single-end file (or chunk), each aligned and called once (see
    :meth:`Context.classified` for ``reuse`` and ``alignments``).

    The distinct sequences are aligned in slices as the file is read (:class:`_AlignAsRead`: the compiled
    kernel runs in worker threads while this one reads); with ``progress``, each slice reports the reads
    it stands for once the file is read. A call depends on its sequence only, so the result is the same."""
    streamed = _AlignAsRead(ctx, threads, reuse, alignments) if ctx.batchable else None
    early = prefetch.take(path, chunk_size)  # the command may have started reading before the engine loaded
    try:
        if early is not None:
            early.attach(streamed.add if streamed else None)
            sc = early.result()
        else:
            sc = count_sequences(path, chunk_size, streamed.add if streamed else None)
        seqs = list(sc.counts)
        if progress is not None:
            progress(0, total=sc.reads)
        if streamed is not None and streamed.done(seqs):
            calls, alns = streamed.calls(sc.counts, progress)
        else:
            alns = [] if alignments else None
            calls = []
            for i in range(0, len(seqs), PROGRESS_SLICE):
                part = seqs[i : i + PROGRESS_SLICE]
                calls.extend(ctx.classified(part, threads, reuse, alns))
                if progress is not None:
                    progress(sum(map(sc.counts.__getitem__, part)))
    finally:
        if streamed is not None:
            streamed.close()
    return SequenceVariants(str(path), sc.counts, calls, sc.reads, sc.max_len, sc.sha256, alns)


class _AlignAsRead:
    """Distinct sequences aligned in slices of :data:`PROGRESS_SLICE` while the FASTQ file is still read.

    The reader (:func:`~cgtqc.seq.fastq.count_sequences`) hands over each block's new sequences in
    first-seen order; each full slice is a job for a pool of ``threads`` worker threads, each with its own
    aligners (their work buffers cannot be shared), whose kernel releases the interpreter: reading and the
    slices' alignments share the cores, and one slice's Python work overlaps another's kernel. If the reader
    fell back to its checked path, what was heard is not the file's list of sequences: :meth:`done` says so
    and the caller aligns them itself.
    """

    def __init__(self, ctx: Context, threads: int, reuse: bool, alignments: bool) -> None:
        self.ctx, self.threads, self.reuse, self.alignments = ctx, max(1, threads), reuse, alignments
        self.pool = ThreadPoolExecutor(self.threads)
        self.local = threading.local()
        self.pending: list[str] = []
        self.jobs: list[tuple[list[str], list[Alignment] | None, Future[list[Variant]]]] = []

    def add(self, new: list[str]) -> None:
        self.pending += new
        if len(self.pending) >= PROGRESS_SLICE:
            self._submit()

    def _submit(self) -> None:
        seqs = self.pending
        self.pending = []
        alns: list[Alignment] | None = [] if self.alignments else None
        job = self.pool.submit(self._classify, seqs, alns)
        self.jobs.append((seqs, alns, job))

    def _classify(self, seqs: list[str], alns: list[Alignment] | None) -> list[Variant]:
        return self._context().classified(seqs, 1, self.reuse, alns)

    def _context(self) -> Context:
        """This worker's Context: the caller's with one worker, else a copy with its own aligners (sharing
        the references, seed tables and the memo of calls)."""
        if self.threads == 1:
            return self.ctx
        ctx = getattr(self.local, "ctx", None)
        if ctx is None:
            ctx = copy.copy(self.ctx)
            ctx.aligners = [Aligner(r.sequence, r.incentive) for r in ctx.refs]
            self.local.ctx = ctx
        return ctx

    def done(self, seqs: list[str]) -> bool:
        """Submit the last slice; whether the slices hold exactly ``seqs``, in order. When they do not, the
        workers are stopped first (the caller then uses the same aligners, whose buffers are not shared)."""
        if self.pending:
            self._submit()
        heard = [s for part, _, _ in self.jobs for s in part]
        if heard != seqs:
            self.close()
            return False
        return True

    def calls(
        self, counts: dict[str, int], progress: ProgressFn | None
    ) -> tuple[list[Variant], list[Alignment] | None]:
        calls: list[Variant] = []
        alns: list[Alignment] | None = [] if self.alignments else None
        for part, part_alns, job in self.jobs:
            calls += job.result()
            if alns is not None and part_alns is not None:
                alns += part_alns
            if progress is not None:
                progress(sum(map(counts.__getitem__, part)))
        return calls, alns

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def merge_single_end(
    parts: list[SequenceVariants],
) -> tuple[dict[str, Any], dict[str, tuple[int, Variant]]]:
    """Read counts, CRISPResso2's cache statistics and the aligned variants of the chunks of one file."""
    if len(parts) == 1:  # one chunk (the whole file): its counts and calls as they are
        counts, calls_list = parts[0].counts, parts[0].variants
    else:
        counts = {}
        calls: dict[str, Variant] = {}
        for part in parts:  # chunk order: a sequence keeps the place (and call) of its first chunk
            for (seq, c), var in zip(part.counts.items(), part.variants, strict=True):
                old = counts.get(seq)
                if old is None:
                    counts[seq] = c
                    calls[seq] = var
                else:
                    counts[seq] = old + c
        calls_list = list(calls.values())
    n = sum(p.reads for p in parts)
    st = _stats(n, max((p.max_len for p in parts), default=0))
    variants = {s: (c, var) for (s, c), var in zip(counts.items(), calls_list, strict=True) if var[0]}
    n_aln = len(variants)
    reads_aln = sum(c for c, _ in variants.values())
    st["computed_aln"] = n_aln
    st["cached_aln"] = reads_aln - n_aln
    st["computed_notaln"] = len(counts) - n_aln
    st["cached_notaln"] = (n - reads_aln) - (len(counts) - n_aln)
    return st, variants


def paired(path1: Path, path2: Path, ctx: Context, progress: ProgressFn | None = None) -> PairEvents:
    """Merged read pairs (CRISPResso2's --crispresso_merge) of one pair of files (or chunks); ``progress``
    hears of every thousand pairs."""
    computed: list[tuple[str, Variant, bool, str]] = []
    repeats: dict[str, int] = {}
    settled: set[str] = set()  # pairs with a cacheable alignment: later copies are cache hits
    reads = max_len = 0
    for rec1, rec2 in read_pairs(path1, path2):
        reads += 1
        if progress is not None and reads % PAIR_PROGRESS == 0:
            progress(PAIR_PROGRESS)
        s1 = rec1.sequence
        s2 = reverse_complement(rec2.sequence)
        max_len = max(max_len, len(s1), len(s2))
        key = s1 + "+" + s2
        if key in settled:
            repeats[key] = repeats.get(key, 0) + 1
            continue
        var, cacheable, aln_key = classify_pair(ctx, s1, s2, rec1.quality, rec2.quality[::-1])
        computed.append((key, var, cacheable, aln_key))
        if cacheable:
            settled.add(key)
    if progress is not None:
        progress(reads % PAIR_PROGRESS)
    return PairEvents(reads, max_len, computed, repeats)


def merge_paired(parts: list[PairEvents]) -> tuple[dict[str, Any], dict[str, tuple[int, Variant]]]:
    """CRISPResso2's pair cache replayed over the chunks in order: statistics and variants of the file.

    A pair aligned in its chunk is a cache hit when an earlier chunk already cached its sequences; the
    chunk's own repeats come after its cacheable pair, so they are hits whatever the earlier chunks held.
    """
    cache: dict[str, tuple[int, Variant]] = {}
    not_aln: set[str] = set()
    st = _stats(sum(p.reads for p in parts), max((p.max_len for p in parts), default=0))
    for part in parts:
        for key, var, cacheable, aln_key in part.computed:
            if key in not_aln:
                st["cached_notaln"] += 1
            elif key in cache:
                st["cached_aln"] += 1
                c, v = cache[key]
                cache[key] = (c + 1, v)
            elif var[0]:
                st["computed_aln"] += 1
                if cacheable:
                    cache[key] = (1, var)
                elif aln_key in cache:
                    c, v = cache[aln_key]
                    cache[aln_key] = (c + 1, v)
                else:
                    cache[aln_key] = (1, var)
            else:
                st["computed_notaln"] += 1
                if cacheable:
                    not_aln.add(key)
        for key, n in part.repeats.items():
            if key in not_aln:
                st["cached_notaln"] += n
            else:
                st["cached_aln"] += n
                c, v = cache[key]
                cache[key] = (c + n, v)
    # CRISPResso2 re-keys the pair-keyed entries by their merged alignment at the end
    for key in list(cache):
        if "+" in key:
            c, v = cache.pop(key)
            new_key = v[2][0][4].decode() if v[2] and v[2][0][4] else key
            if new_key in cache:
                c0, v0 = cache[new_key]
                cache[new_key] = (c0 + c, v0)
            else:
                cache[new_key] = (c, v)
    return st, cache
