"""Read calls of the editing engine: each distinct read (or pair) aligned once to every reference.

:class:`Context` holds the references and their compiled aligners, built once per process, and remembers the
calls of sequences already seen. A read is classified with CRISPResso2's rules (strand by seeds, best identity
above the minimum, ties ambiguous): single-end reads in batches by :func:`classify_batch` (one compiled call
per reference for all distinct reads), base-editing tables and prime-editing scaffold searches with
:func:`classify_sequence` (the alignment kept), read pairs by :func:`classify_pair` (CRISPResso2's consensus
merge); :func:`_classify_all` spreads batches over worker processes. Counting is :mod:`.pipeline`'s job.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from cgtqc.seq.editing.align import Aligner, _kernel, identity_score, reverse_complement
from cgtqc.seq.editing.batch import (
    BY_SEEDS,
    SEED_COUNT,
    SEED_MIN,
    align_and_call,
    alignment_slots,
    seed_table,
)
from cgtqc.seq.editing.classify import Reference, call_read, ref_positions
from cgtqc.seq.fastq import consensus_from_pairs

MEMO_SIZE = 1 << 16  # distinct sequences whose calls a Context keeps (~30 MB of 250-bp reads)


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

    @property
    def batchable(self) -> bool:
        """Reads are called in batches by the compiled kernel (no alignment kept per read, no processes)."""
        return not (self.keep or self.scaffold is not None)

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

    def classified(
        self,
        seqs: list[str],
        threads: int = 1,
        reuse: bool = False,
        alignments: list[Alignment] | None = None,
    ) -> list[Variant]:
        """The calls of distinct sequences; with ``reuse``, earlier chunks' calls in this process are reused.
        ``alignments``, when given, is extended with one entry per sequence: the alignment of an aligned read
        to its (first) best reference where the batch kernel kept it, else None (for the allele table, which
        aligns those again).

        A call depends on the sequence and the references only, so a sequence seen in several chunks
        (the common alleles and their sequencing errors) is aligned once per process, whatever the chunk
        size. The first ``MEMO_SIZE`` sequences are kept (the frequent ones come early).
        """
        if not reuse:
            return _classify_all(seqs, self, threads, alignments)
        memo = self.memo
        todo = [s for s in seqs if s not in memo] if memo else seqs
        new_alns: list[Alignment] | None = [] if alignments is not None else None
        new = _classify_all(todo, self, threads, new_alns) if todo else []
        room = MEMO_SIZE - len(memo)
        if room > 0:
            memo.update(zip(todo[:room], new[:room], strict=True))
        if len(todo) == len(seqs):
            if alignments is not None and new_alns is not None:
                alignments.extend(new_alns)
            return new
        got = dict(zip(todo, new, strict=True))
        if alignments is not None and new_alns is not None:
            got_aln = dict(zip(todo, new_alns, strict=True))
            alignments.extend(got_aln.get(s) for s in seqs)
        return [got[s] if s in got else memo[s] for s in seqs]

    def align(self, i: int, seq: str) -> tuple[np.ndarray, np.ndarray, float]:
        a, b, ident, k = self.aligners[i].align_bytes(np.frombuffer(seq.encode("ascii"), dtype=np.uint8))
        return a, b, identity_score(ident, k)


# A classified sequence: (aligned, class, payloads) with class -1 ambiguous, -2 scaffold-incorporated,
# else the reference index; payloads = list of (ref index, ins, del, sub, aligned read, aligned ref).
Variant = tuple[bool, int, list[tuple[int, bool, bool, bool, bytes, bytes]]]
# An aligned read's alignment to its first best reference: (aligned read, aligned reference), or None.
Alignment = tuple[str, str] | None


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


def classify_batch(
    ctx: Context, seqs: list[str], threads: int = 1, alignments: list[Alignment] | None = None
) -> list[Variant]:
    """:func:`classify_sequence` for many reads at once: one compiled call per reference.

    Same rules and results; used when no base-editing tables or scaffold search need every alignment.
    With ``threads`` > 1 the compiled kernel (which releases the GIL) runs on slices of the reads in that
    many threads. ``alignments`` (see :meth:`Context.classified`) is extended with the alignments the
    kernel kept (it leaves out the rare read whose strands tie too closely to call there).
    """
    n = len(seqs)
    exact = [ctx.exact.get(s) for s in seqs]
    lens = list(map(len, seqs))
    offs = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offs[1:])
    buf = np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8)
    # reads of one length in sequence order: consecutive reads share DP rows as far as their common prefix
    order_list = sorted(range(n), key=seqs.__getitem__)
    order_list.sort(key=lens.__getitem__)
    order = np.array(order_list, dtype=np.int64)
    per_ref = []
    slots = []
    for i in range(len(ctx.refs)):
        emit = alignment_slots(offs, len(ctx.refs[i].sequence)) if alignments is not None else None
        slots.append(emit)
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
                    pool.submit(align_and_call, a, buf, offs, st, ref.include, part, res, table, emit)
                    for a, part in zip(aligners, np.array_split(order, threads), strict=True)
                ]
                for job in jobs:
                    job.result()
        else:
            res = align_and_call(
                ctx.aligners[i], buf, offs, st, ctx.refs[i].include, order, None, table, emit
            )
        strands = st.tolist()
        per_ref.append((strands, res, ctx.refs[i].min_aln_score))
    if len(ctx.refs) == 1:
        out = _single_reference_variants(exact, *per_ref[0])
        if alignments is not None:
            alignments.extend(_kept_alignments(ctx, out, seqs, exact, slots))
        return out
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
    if alignments is not None:
        alignments.extend(_kept_alignments(ctx, out, seqs, exact, slots))
    return out


def _kept_alignments(
    ctx: Context,
    variants: list[Variant],
    seqs: list[str],
    exact: list[int | None],
    slots: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None],
) -> list[Alignment]:
    """Each aligned read's alignment to its first best reference, from the kernel's slots (see
    :func:`classify_batch`); a read equal to a reference is its own alignment."""
    first = [v[2][0][0] if v[0] else -1 for v in variants]
    offs = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(list(map(len, seqs)), out=offs[1:])
    out: list[Alignment] = [None] * len(seqs)
    for i, slot in enumerate(slots):
        assert slot is not None
        buf, starts, lengths = slot
        rows = [r for r, f in enumerate(first) if f == i] if len(slots) > 1 else list(range(len(seqs)))
        if rows:
            _kernel.alignment_texts(buf, starts, lengths, len(ctx.refs[i].sequence), offs, rows, out)
    for r, e in enumerate(exact):
        if e is not None:
            out[r] = (seqs[r], seqs[r])
    for r, f in enumerate(first):
        if f < 0:
            out[r] = None
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


def _classify_serial(
    ctx: Context, seqs: list[str], alignments: list[Alignment] | None = None
) -> list[Variant]:
    if ctx.keep or ctx.scaffold is not None:
        if alignments is not None:  # the payloads keep the alignments
            alignments.extend([None] * len(seqs))
        return [classify_sequence(ctx, s) for s in seqs]
    return classify_batch(ctx, seqs, alignments=alignments)


def _classify_all(
    seqs: list[str], ctx: Context, threads: int, alignments: list[Alignment] | None = None
) -> list[Variant]:
    if threads <= 1 or len(seqs) < 2000:
        return _classify_serial(ctx, seqs, alignments)
    if not (ctx.keep or ctx.scaffold is not None):
        _classify_serial(ctx, seqs[:1])  # load the kernels before the threads use them
        return classify_batch(ctx, seqs, threads, alignments)
    # compile/load the kernels once here, so forked workers inherit them instead of each loading them
    _classify_serial(ctx, seqs[:1])
    if alignments is not None:  # the payloads keep the alignments
        alignments.extend([None] * len(seqs))
    import multiprocessing  # only here: the per-read path's worker processes (~5 ms of imports)
    from concurrent.futures import ProcessPoolExecutor

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
