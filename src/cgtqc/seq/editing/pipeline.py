"""The counting pipeline of the editing engine: read, collapse, align once per sequence, count.

Each distinct read (or read pair) is aligned to every reference once (:class:`Context` holds the
references and their compiled aligners), classified with CRISPResso2's rules (strand by seeds, best
identity above the minimum, ties ambiguous) and counted in first-seen order with reverse
complements merged. Single-end files go through :func:`classify_batch` (one compiled call per
reference for all distinct reads); base-editing tables and prime-editing scaffold searches keep
each alignment and use :func:`classify_sequence`. A file, or each chunk of it, gives a partial result
(:class:`SequenceVariants`, :class:`PairEvents`); :func:`merge_single_end` and :func:`merge_paired` merge
the partials of a file in chunk order to exactly the counts of one pass.
"""

from __future__ import annotations

import copy
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cgtqc.seq.editing.align import Aligner, identity_score, reverse_complement
from cgtqc.seq.editing.batch import BY_SEEDS, SEED_COUNT, SEED_MIN, align_and_call, seed_table
from cgtqc.seq.editing.classify import Reference, add_base_counts, call_read, ref_positions
from cgtqc.seq.editing.results import Allele, ReferenceCounts
from cgtqc.seq.fastq import consensus_from_pairs, count_sequences, read_pairs

MEMO_SIZE = 1 << 16  # distinct sequences whose calls a Context keeps (~30 MB of 250-bp reads)
PROGRESS_SLICE = 10_000  # distinct sequences aligned between two progress reports
PAIR_PROGRESS = 1_000  # read pairs between two progress reports

# A progress report: ``progress(n_reads_done_since_last_call, total=None)``; ``total`` once it is known.
ProgressFn = Callable[..., None]


class Context:
    """References and their aligners, built once per process."""

    def __init__(
        self, refs: list[Reference], scaffold: tuple[int, str] | None, keep_alignments: bool
    ) -> None:
        self.refs = refs
        self.aligners = [Aligner(r.sequence, r.incentive) for r in refs]
        self.exact = {r.sequence: i for i, r in enumerate(refs)}
        self.scaffold = scaffold
        self.keep = keep_alignments
        self.seeds = [(r.fw_seeds[:SEED_COUNT], r.rc_seeds[:SEED_COUNT]) for r in refs]
        self.seed_tables = [seed_table(fw, rv) for fw, rv in self.seeds]
        self.pe_index = next((i for i, r in enumerate(refs) if r.name == "Prime-edited"), None)
        self.memo: dict[str, Variant] = {}  # calls of earlier chunks' sequences (see :meth:`classified`)

    def strand(self, i: int, seqs: tuple[str, ...]) -> int:
        """+1 forward, -1 reverse, 0 both (seed counts as CRISPResso2)."""
        fw_seeds, rc_seeds = self.seeds[i]
        if len(seqs) == 1:
            fw = sum(map(seqs[0].__contains__, fw_seeds))
            rv = sum(map(seqs[0].__contains__, rc_seeds))
        else:
            fw = sum(1 for k in fw_seeds if any(k in s for s in seqs))
            rv = sum(1 for k in rc_seeds if any(k in s for s in seqs))
        if fw > SEED_MIN and rv == 0:
            return 1
        if fw == 0 and rv > SEED_MIN:
            return -1
        return 0

    def classified(self, seqs: list[str], threads: int = 1, reuse: bool = False) -> list[Variant]:
        """The calls of distinct sequences; with ``reuse``, earlier chunks' calls in this process are reused.

        A call depends on the sequence and the references only, so a sequence seen in several chunks
        (the common alleles and their sequencing errors) is aligned once per process, whatever the chunk
        size. The first ``MEMO_SIZE`` sequences are kept (the frequent ones come early).
        """
        if not reuse:
            return _classify_all(seqs, self, threads)
        memo = self.memo
        todo = [s for s in seqs if s not in memo] if memo else seqs
        new = _classify_all(todo, self, threads) if todo else []
        room = MEMO_SIZE - len(memo)
        if room > 0:
            memo.update(zip(todo[:room], new[:room], strict=True))
        if len(todo) == len(seqs):
            return new
        got = dict(zip(todo, new, strict=True))
        return [got[s] if s in got else memo[s] for s in seqs]

    def align(self, i: int, seq: str) -> tuple[np.ndarray, np.ndarray, float]:
        a, b, ident, k = self.aligners[i].align_bytes(np.frombuffer(seq.encode("ascii"), dtype=np.uint8))
        return a, b, identity_score(ident, k)


# A classified sequence: (aligned, class, payloads) with class -1 ambiguous, -2 scaffold-incorporated,
# else the reference index; payloads = list of (ref index, ins, del, sub, aligned read, aligned ref).
Variant = tuple[bool, int, list[tuple[int, bool, bool, bool, bytes, bytes]]]


def _payloads(ctx: Context, best: list[tuple[int, np.ndarray, np.ndarray]]) -> Variant:
    payloads = []
    for i, a, b in best:
        ins_n, del_n, sub_n, *_ = call_read(a, b, ctx.refs[i].include)
        keep = ctx.keep or (ctx.scaffold is not None and i == ctx.pe_index)
        payloads.append(
            (i, ins_n > 0, del_n > 0, sub_n > 0, a.tobytes() if keep else b"", b.tobytes() if keep else b"")
        )
    cls = best[0][0] if len(best) == 1 else -1
    if ctx.scaffold is not None and ctx.pe_index is not None:
        for i, _, _, _, a, b in payloads:
            if i == ctx.pe_index:
                aln, ref = a.decode(), b.decode()
                loc = ref_positions(ref).index(ctx.scaffold[0] - 1) + 1
                if aln[loc : loc + len(ctx.scaffold[1])] == ctx.scaffold[1]:
                    cls = -2
                    payloads = [(i, *p[1:]) for p in payloads if p[0] == i]
    if not ctx.keep:
        payloads = [(p[0], p[1], p[2], p[3], b"", b"") for p in payloads]
    return True, cls, payloads


def classify_sequence(ctx: Context, seq: str) -> Variant:
    """Align one unique read to every reference and call it (CRISPResso2's get_new_variant_object)."""
    exact = ctx.exact.get(seq)
    if exact is not None:
        arr = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
        return _payloads(ctx, [(exact, arr, arr)])
    best_score = -1.0
    best: list[tuple[int, np.ndarray, np.ndarray]] = []
    rc = None
    for i, ref in enumerate(ctx.refs):
        s = ctx.strand(i, (seq,))
        if s == 1:
            a, b, score = ctx.align(i, seq)
        elif s == -1:
            rc = rc or reverse_complement(seq)
            a, b, score = ctx.align(i, rc)
        else:
            rc = rc or reverse_complement(seq)
            a, b, score = ctx.align(i, seq)
            ra, rb, rscore = ctx.align(i, rc)
            if rscore > score:
                a, b, score = ra, rb, rscore
        if score > best_score and score > ref.min_aln_score:
            best_score = score
            best = [(i, a, b)]
        elif score == best_score:
            best.append((i, a, b))
    if best_score <= 0:
        return False, 0, []
    return _payloads(ctx, best)


def classify_batch(ctx: Context, seqs: list[str], threads: int = 1) -> list[Variant]:
    """:func:`classify_sequence` for many reads at once: one compiled call per reference.

    Same rules and results; used when no aligned sequences need to be kept (no base-editing
    tables, no scaffold search). With ``threads`` > 1 the compiled kernel (which releases the
    GIL) runs on slices of the reads in that many threads.
    """
    n = len(seqs)
    exact = [ctx.exact.get(s) for s in seqs]
    offs = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, seqs), dtype=np.int64, count=n), out=offs[1:])
    buf = np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8)
    order = np.array(sorted(range(n), key=seqs.__getitem__), dtype=np.int64)  # shared prefixes reuse DP rows
    per_ref = []
    for i in range(len(ctx.refs)):
        table = ctx.seed_tables[i]
        if table is not None:  # the kernel decides the strand from the seeds
            st = np.array([2 if e is not None else BY_SEEDS for e in exact], dtype=np.int64)
        else:
            st = np.array(
                [2 if e is not None else ctx.strand(i, (s,)) for e, s in zip(exact, seqs, strict=True)],
                dtype=np.int64,
            )
        if threads > 1 and n >= 2000:
            res = np.zeros((n, 2, 5), dtype=np.int64)
            ref = ctx.refs[i]
            aligners = [ctx.aligners[i]] + [Aligner(ref.sequence, ref.incentive) for _ in range(threads - 1)]
            with ThreadPoolExecutor(threads) as pool:
                jobs = [
                    pool.submit(align_and_call, a, buf, offs, st, ref.include, part, res, table)
                    for a, part in zip(aligners, np.array_split(order, threads), strict=True)
                ]
                for job in jobs:
                    job.result()
        else:
            res = align_and_call(ctx.aligners[i], buf, offs, st, ctx.refs[i].include, order, None, table)
        strands = st.tolist()
        per_ref.append((strands, res, ctx.refs[i].min_aln_score))
    if len(ctx.refs) == 1:
        return _single_reference_variants(exact, *per_ref[0])
    per_ref = [(strands, res.tolist(), min_score) for strands, res, min_score in per_ref]
    out: list[Variant] = []
    for r in range(n):
        e = exact[r]
        if e is not None:
            out.append((True, e, [(e, False, False, False, b"", b"")]))
            continue
        best_score = -1.0
        best: list[tuple[int, list[int]]] = []
        for i, (strands, res, min_score) in enumerate(per_ref):
            st = strands[r]
            fw, rv = res[r]
            if st == 1:
                row = fw
            elif st == -1:
                row = rv
            else:
                row = rv if identity_score(rv[0], rv[1]) > identity_score(fw[0], fw[1]) else fw
            score = identity_score(row[0], row[1])
            if score > best_score and score > min_score:
                best_score = score
                best = [(i, row)]
            elif score == best_score:
                best.append((i, row))
        if best_score <= 0:
            out.append((False, 0, []))
            continue
        payloads = [(i, row[2] > 0, row[3] > 0, row[4] > 0, b"", b"") for i, row in best]
        out.append((True, best[0][0] if len(best) == 1 else -1, payloads))
    return out


_UNALIGNED: Variant = (False, 0, [])
_SINGLE_REF: list[Variant] = [
    (True, 0, [(0, bool(c & 4), bool(c & 2), bool(c & 1), b"", b"")]) for c in range(8)
]


def _single_reference_variants(
    exact: list[int | None], strands: list[int], res: np.ndarray, min_score: float
) -> list[Variant]:
    """The one-reference case of :func:`classify_batch`, vectorised (same rules)."""
    st = np.array(strands)
    rows = np.where((st == -1)[:, None], res[:, 1, :], res[:, 0, :])
    for r in np.flatnonzero(st == 0).tolist():  # both strands aligned: the reverse must score higher
        fw, rv = res[r, 0].tolist(), res[r, 1].tolist()
        if identity_score(rv[0], rv[1]) > identity_score(fw[0], fw[1]):
            rows[r] = res[r, 1]
    codes = ((rows[:, 2] > 0) * 4 + (rows[:, 3] > 0) * 2 + (rows[:, 4] > 0)).tolist()
    ok = _accepted(rows[:, 0], rows[:, 1], min_score)
    ok[[i for i, e in enumerate(exact) if e is not None]] = True
    return [_SINGLE_REF[c] if good else _UNALIGNED for c, good in zip(codes, ok.tolist(), strict=True)]


def _accepted(ident: np.ndarray, cols: np.ndarray, min_score: float) -> np.ndarray:
    """``identity_score(ident, cols) > min_score`` and ``> 0`` for many alignments at once.

    The unrounded score is computed with the same float operations as :func:`identity_score`; only
    scores within 0.01 of a threshold are rounded in Python (numpy's rounding is not Python's).
    """
    ok = np.zeros(ident.shape[0], dtype=bool)
    has = cols > 0
    score = np.zeros(ident.shape[0])
    score[has] = (100 * ident[has]) / cols[has].astype(np.float64)
    ok[has] = (score[has] > min_score) & (score[has] > 0)
    near = has & ((np.abs(score - min_score) < 0.01) | (np.abs(score) < 0.01))
    for r in np.flatnonzero(near).tolist():
        s = identity_score(int(ident[r]), int(cols[r]))
        ok[r] = s > min_score and s > 0
    return ok


def classify_pair(ctx: Context, r1: str, r2: str, q1: str, q2: str) -> tuple[Variant, bool, str]:
    """Align both reads of a pair, merge them (CRISPResso2's --crispresso_merge) and call the result.

    Returns the variant, whether it may be cached by the two sequences, and the key CRISPResso2 uses
    otherwise (the merged alignment of the first reference).
    """
    best_score = -1.0
    best: list[tuple[int, np.ndarray, np.ndarray]] = []
    cacheable = True
    for i, ref in enumerate(ctx.refs):
        s = ctx.strand(i, (r1, r2))
        cands = []
        if s >= 0:
            cands.append((r1, r2))
        if s <= 0:
            cands.append((reverse_complement(r1), reverse_complement(r2)))
        results = []
        for x1, x2 in cands:
            a1, b1, sc1 = ctx.align(i, x1)
            a2, b2, sc2 = ctx.align(i, x2)
            res = consensus_from_pairs(
                a1.tobytes().decode(),
                b1.tobytes().decode(),
                sc1,
                q1,
                a2.tobytes().decode(),
                b2.tobytes().decode(),
                sc2,
                q2,
            )
            results.append(res)
        a, _, b, score, cacheable = results[0]
        if len(results) == 2:
            cacheable = results[1][4]
            if results[1][3] > score:
                a, _, b, score, _ = results[1]
        arr_a = np.frombuffer(a.encode("ascii"), dtype=np.uint8)
        arr_b = np.frombuffer(b.encode("ascii"), dtype=np.uint8)
        if score > best_score and score > ref.min_aln_score:
            best_score = score
            best = [(i, arr_a, arr_b)]
        elif score == best_score:
            best.append((i, arr_a, arr_b))
    if best_score <= 0:
        return (False, 0, []), cacheable, ""
    old_keep = ctx.keep
    ctx.keep = True
    var = _payloads(ctx, best)
    ctx.keep = old_keep
    key = var[2][0][4].decode() if var[2] else ""
    if not ctx.keep:
        var = (var[0], var[1], [(p[0], p[1], p[2], p[3], b"", b"") for p in var[2]])
    return var, cacheable, key


# ---------------------------------------------------------------- parallel workers

_CTX: Context | None = None


def _init_worker(refs: list[Reference], scaffold: tuple[int, str] | None, keep: bool) -> None:
    global _CTX
    _CTX = Context(refs, scaffold, keep)


def _work(seqs: list[str]) -> list[Variant]:
    assert _CTX is not None
    return _classify_serial(_CTX, seqs)


def _classify_serial(ctx: Context, seqs: list[str]) -> list[Variant]:
    if ctx.keep or ctx.scaffold is not None:
        return [classify_sequence(ctx, s) for s in seqs]
    return classify_batch(ctx, seqs)


def _classify_all(seqs: list[str], ctx: Context, threads: int) -> list[Variant]:
    if threads <= 1 or len(seqs) < 2000:
        return _classify_serial(ctx, seqs)
    if not (ctx.keep or ctx.scaffold is not None):
        _classify_serial(ctx, seqs[:1])  # load the kernels before the threads use them
        return classify_batch(ctx, seqs, threads)
    # compile/load the kernels once here, so forked workers inherit them instead of each loading them
    _classify_serial(ctx, seqs[:1])
    n_parts = threads * 2
    step = (len(seqs) + n_parts - 1) // n_parts
    parts = [seqs[i : i + step] for i in range(0, len(seqs), step)]
    out: list[Variant] = []
    methods = multiprocessing.get_all_start_methods()
    mp = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(
        max_workers=threads,
        mp_context=mp,
        initializer=_init_worker,
        initargs=(ctx.refs, ctx.scaffold, ctx.keep),
    ) as pool:
        for res in pool.map(_work, parts):
            out.extend(res)
    return out


# ---------------------------------------------------------------- counting


def reverse_complements(seqs: list[str]) -> list[str]:
    """:func:`reverse_complement` of many sequences in three string operations."""
    if not seqs:
        return []
    return reverse_complement("\n".join(seqs)).split("\n")[::-1]


def merged_counts(keys: list[str], counts: list[int]) -> list[int]:
    """Counts after CRISPResso2's merge of reverse complements, keys in first-seen order.

    A key whose reverse complement is also a key absorbs that key's reads (if both still have
    reads), and the other is then skipped; a palindromic key is counted twice, as in CRISPResso2.
    """
    merged = list(counts)
    pos = dict(zip(keys, range(len(keys)), strict=True))
    rcs = reverse_complements(keys)
    common = pos.keys() & set(rcs)  # usually empty: no read seen on both strands
    if not common:
        return merged
    for i, rc in enumerate(rcs):
        if rc not in common:
            continue
        j = pos[rc]
        if merged[i] == 0 or merged[j] == 0:
            continue
        v = merged[i] + merged[j]
        merged[j] = 0
        merged[i] = v
    return merged


def count_variants(
    ctx: Context, variants: dict[str, tuple[int, Variant]], base_counts: bool
) -> tuple[list[ReferenceCounts], int, int]:
    """Reference rows from aligned variants (in first-seen order), merging reverse complements."""
    rows = [ReferenceCounts(r.name, r.sequence, r.window) for r in ctx.refs]
    scaffold_row = None
    if ctx.scaffold is not None:
        pe = ctx.refs[ctx.pe_index]
        scaffold_row = ReferenceCounts("Scaffold-incorporated", pe.sequence, pe.window)
    if base_counts:
        for r in rows + ([scaffold_row] if scaffold_row else []):
            r.base_counts = np.zeros((6, len(r.sequence)), dtype=np.int64)
    keys = list(variants)
    entries = list(variants.values())
    merged = merged_counts(keys, [c for c, _ in entries])
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


def allele_rows(ctx: Context, variants: dict[str, tuple[int, Variant]]) -> list[Allele] | None:
    """CRISPResso2's allele table rows: each distinct aligned read (reverse complements merged), per
    reference it is assigned to, in first-seen order; ambiguous reads are left out, as CRISPResso2 does.

    The fast kernel keeps no alignments, so each distinct read is aligned again here, alone, with the same
    rules (the call is the same). Pairs merged without kept alignments cannot be rebuilt: None.
    """
    keys = list(variants)
    entries = list(variants.values())
    merged = merged_counts(keys, [c for c, _ in entries])
    kctx = copy.copy(ctx)
    kctx.keep = True
    out: list[Allele] = []
    for key, (_, var), n in zip(keys, entries, merged, strict=True):
        if not n or var[1] == -1:
            continue
        payloads = var[2]
        if not all(p[4] for p in payloads):
            if "+" in key or "-" in key:  # a pair key or a merged alignment: nothing to align again
                return None
            payloads = classify_sequence(kctx, key)[2]
        for i, _ins, _del, _sub, a, b in payloads:
            aa, bb = np.frombuffer(a, dtype=np.uint8), np.frombuffer(b, dtype=np.uint8)
            ins_n, del_n, sub_n, *_ = call_read(aa, bb, ctx.refs[i].include)
            name = "Scaffold-incorporated" if var[1] == -2 else ctx.refs[i].name
            status = "MODIFIED" if ins_n + del_n + sub_n > 0 else "UNMODIFIED"
            out.append(Allele(a.decode(), b.decode(), name, status, int(del_n), int(ins_n), int(sub_n), n))
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
    progress: ProgressFn | None = None,
) -> SequenceVariants:
    """Distinct sequences of a single-end file (or chunk), each aligned and called once (see
    :meth:`Context.classified` for ``reuse``).

    With ``progress``, the distinct sequences are aligned in slices and each slice reports the reads it
    stands for (a call depends on its sequence only, so the result is the same)."""
    sc = count_sequences(path, chunk_size)
    seqs = list(sc.counts)
    if progress is None:
        calls = ctx.classified(seqs, threads, reuse)
    else:
        progress(0, total=sc.reads)
        calls = []
        for i in range(0, len(seqs), PROGRESS_SLICE):
            part = seqs[i : i + PROGRESS_SLICE]
            calls.extend(ctx.classified(part, threads, reuse))
            progress(sum(map(sc.counts.__getitem__, part)))
    return SequenceVariants(str(path), sc.counts, calls, sc.reads, sc.max_len, sc.sha256)


def merge_single_end(
    parts: list[SequenceVariants],
) -> tuple[dict[str, Any], dict[str, tuple[int, Variant]]]:
    """Read counts, CRISPResso2's cache statistics and the aligned variants of the chunks of one file."""
    counts: dict[str, int] = {}
    calls: dict[str, Variant] = {}
    for part in parts:  # chunk order: a sequence keeps the place (and call) of its first chunk
        for (seq, c), var in zip(part.counts.items(), part.variants, strict=True):
            old = counts.get(seq)
            if old is None:
                counts[seq] = c
                calls[seq] = var
            else:
                counts[seq] = old + c
    n = sum(p.reads for p in parts)
    st = _stats(n, max((p.max_len for p in parts), default=0))
    n_aln = reads_aln = 0
    for seq, c in counts.items():
        if calls[seq][0]:
            n_aln += 1
            reads_aln += c
    st["computed_aln"] = n_aln
    st["cached_aln"] = reads_aln - n_aln
    st["computed_notaln"] = len(counts) - n_aln
    st["cached_notaln"] = (n - reads_aln) - (len(counts) - n_aln)
    variants = {s: (c, calls[s]) for s, c in counts.items() if calls[s][0]}
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
