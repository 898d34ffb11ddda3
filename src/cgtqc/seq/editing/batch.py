"""Many distinct reads aligned to one reference in one compiled call, with their window calls.

The kernel reads all sequences from one byte buffer (offsets per read), in an order that lets
consecutive reads share dynamic-programming rows, decides each read's strand from CRISPResso2's
seeds (a 2-bit k-mer lookup table), aligns it with :func:`cgtqc.seq.editing.align._align_auto`
and calls insertions, deletions and substitutions in the quantification window. For reads that
must be aligned on both strands, a bit-parallel longest-common-subsequence bound skips the strand
that provably cannot win the identity comparison.
"""

from __future__ import annotations

import numba
import numpy as np

from cgtqc.seq.editing.align import EDNAFULL, Aligner, _align_auto
from cgtqc.seq.editing.classify import call_read

_COMP_TABLE = np.arange(256, dtype=np.uint8)
for _a, _b in zip(b"ACGTNacgtn", b"TGCANTGCAN", strict=True):
    _COMP_TABLE[_a] = _b


SEED_MIN = 2  # a strand is chosen when more than this many of its seeds occur (and none of the other's)
SEED_COUNT = 5  # seeds used per strand
BY_SEEDS = 3  # strand code asking the batch kernel to decide the strand from the seed table

_BASE_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _c in enumerate(b"ACGT"):
    _BASE_CODE[_c] = _i


def seed_table(fw_seeds: list[str], rc_seeds: list[str]) -> tuple[np.ndarray, int] | None:
    """Lookup table (2-bit code of a k-mer -> bit mask of the seeds equal to it) for the kernel.

    Bits 0-4 are the first :data:`SEED_COUNT` forward seeds, bits 5-9 the reverse ones, so a read's
    OR of masks counts each listed seed it contains once, as ``sum(seed in read for seed in ...)``.
    None when the seeds are not all upper-case ACGT k-mers of one length k <= 10 (callers then
    count in Python).
    """
    fw, rv = fw_seeds[:SEED_COUNT], rc_seeds[:SEED_COUNT]
    lengths = {len(x) for x in fw + rv}
    if len(lengths) > 1 or any(set(x) - set("ACGT") for x in fw + rv):
        return None
    k = lengths.pop() if lengths else 10
    if not 1 <= k <= 10:
        return None
    table = np.zeros(4**k, dtype=np.uint16)
    for bit, seed in [(i, x) for i, x in enumerate(fw)] + [(SEED_COUNT + i, x) for i, x in enumerate(rv)]:
        code = 0
        for c in seed:
            code = code * 4 + "ACGT".index(c)
        table[code] |= 1 << bit
    return table, k


@numba.njit(cache=True, nogil=True, inline="always")
def _seed_strand(read, table, k, base_code):
    """+1 forward, -1 reverse, 0 both: CRISPResso2's seed rule from the k-mers of the read."""
    kmask = (1 << (2 * k)) - 1
    code = 0
    valid = 0
    found = 0
    for t in range(read.shape[0]):
        c = base_code[read[t]]
        if c > 3:
            valid = 0
            code = 0
            continue
        code = ((code << 2) | c) & kmask
        valid += 1
        if valid >= k:
            found |= table[code]
    fw = 0
    rv = 0
    for b in range(SEED_COUNT):
        fw += (found >> b) & 1
        rv += (found >> (SEED_COUNT + b)) & 1
    if fw > SEED_MIN and rv == 0:
        return 1
    if fw == 0 and rv > SEED_MIN:
        return -1
    return 0


@numba.njit(cache=True, nogil=True)
def _lcs_masks(ref):
    """Per byte value, the bit mask of the reference positions holding it (64-bit words)."""
    words = (ref.shape[0] + 63) // 64
    pm = np.zeros((256, max(words, 1)), dtype=np.uint64)
    for i in range(ref.shape[0]):
        pm[ref[i], i // 64] |= np.uint64(1) << np.uint64(i % 64)
    return pm


@numba.njit(cache=True, nogil=True)
def _lcs_length(read, pm, m, v):
    """Length of the longest common subsequence of ``read`` and the reference (bit-parallel).

    Allison-Dix / Hyyro recurrence: V' = (V + U) | (V - U) with U = V & match(c); the zero bits of
    V among the first ``m`` are the LCS. ``v`` is a work array of ``pm.shape[1]`` words.
    """
    words = pm.shape[1]
    for w in range(words):
        v[w] = ~np.uint64(0)
    for t in range(read.shape[0]):
        row = pm[read[t]]
        carry = np.uint64(0)
        for w in range(words):
            x = v[w]
            u = x & row[w]
            s1 = x + u
            c1 = np.uint64(1) if s1 < x else np.uint64(0)
            s2 = s1 + carry
            c2 = np.uint64(1) if s2 < s1 else np.uint64(0)
            v[w] = s2 | (x & ~u)  # V - U == V & ~U as U is a subset of V
            carry = c1 | c2
    ones = 0
    for i in range(m):
        if (v[i // 64] >> np.uint64(i % 64)) & np.uint64(1):
            ones += 1
    return m - ones


@numba.njit(cache=True, nogil=True)
def _align_batch(
    buf,
    offs,
    order,
    strands,
    ref,
    inc,
    mat,
    gap_open,
    gap_extend,
    band,
    per_gap2,
    include,
    comp,
    ptr,
    out_read,
    out_ref,
    S,
    prev,
    state,
    res,
    seeds,
    seed_k,
    emit,
    aln_out,
    aln_off,
    aln_len,
):
    """Align reads ``buf[offs[r]:offs[r+1]]`` to one reference and call their modifications.

    ``strands[r]``: 1 forward, -1 reverse complement, 0 both, 2 skip, 3 (:data:`BY_SEEDS`) decide
    here from the seed table ``seeds`` of ``seed_k``-mers (the decision is written back).
    ``res[r, s]`` for s = 0 (forward), 1 (reverse): identical columns, columns, insertion_n,
    deletion_n, substitution_n (k = 0 when not aligned on that strand).

    With both strands (0) only their identity scores are compared (the reverse wins only when
    strictly higher). An alignment has at least max(len(read), len(ref)) columns and at most
    LCS(read, ref) identical ones, so the strand with the larger such bound is aligned first and
    the other is skipped when its bound proves it cannot change the choice; a skipped strand gets
    the row (0 identical, 1 column), identity 0, which loses the same comparison.

    With ``emit``, the alignment on the strand the caller's comparison picks is kept: the aligned read at
    ``aln_out[aln_off[r]:]`` and the aligned reference ``len(ref) + len(read)`` bytes after it, its length
    in ``aln_len[r]``; -1 when not kept (no alignment, or both strands' scores too close to call here).
    """
    m = ref.shape[0]
    tmp = np.empty(m * 4 + 64, dtype=np.uint8)
    pm = _lcs_masks(ref)
    vwork = np.empty(pm.shape[1], dtype=np.uint64)
    for r in order:
        st = strands[r]
        if st == 2:
            continue
        read = buf[offs[r] : offs[r + 1]]
        if st == BY_SEEDS:
            st = _seed_strand(read, seeds, seed_k, _BASE_CODE)
            strands[r] = st
        n = read.shape[0]
        if tmp.shape[0] < n:
            tmp = np.empty(n * 2, dtype=np.uint8)
        if st != 1:
            for t in range(n):
                tmp[t] = comp[read[n - 1 - t]]
        rc = tmp[:n]
        first = 0
        lcs_fw = 0
        lcs_rv = 0
        if st == 0 and n > 0:
            lcs_fw = _lcs_length(read, pm, m, vwork)
            lcs_rv = _lcs_length(rc, pm, m, vwork)
            if lcs_rv > lcs_fw:
                first = 1
        longest = max(m, n)
        for step in range(2):
            s = first if step == 0 else 1 - first
            if (s == 0 and st == -1) or (s == 1 and st == 1):
                continue
            seq = rc if s == 1 else read
            if n == 0:
                res[r, s, 0] = 0
                res[r, s, 1] = m
                continue
            if st == 0 and step == 1:
                o_ident = res[r, first, 0]
                o_k = res[r, first, 1]
                if s == 1:
                    # reverse second: it must score strictly higher than the forward to count
                    skip = lcs_rv * o_k <= o_ident * longest
                else:
                    # forward second: skip only if it is below the reverse by more than the
                    # 3-decimal rounding of the identity score (in percent) could hide
                    skip = 100000 * (o_ident * longest - lcs_fw * o_k) > 2 * o_k * longest
                if skip:
                    res[r, s, 0] = 0
                    res[r, s, 1] = 1
                    res[r, s, 2] = 0
                    res[r, s, 3] = 0
                    res[r, s, 4] = 0
                    continue
            k, ident = _align_auto(
                seq,
                ref,
                inc,
                mat,
                gap_open,
                gap_extend,
                band,
                per_gap2,
                ptr,
                out_read,
                out_ref,
                S,
                prev,
                state,
            )
            a = out_read[k - 1 :: -1]
            b = out_ref[k - 1 :: -1]
            ins_n, del_n, sub_n, _, _, _ = call_read(a, b, include)
            res[r, s, 0] = ident
            res[r, s, 1] = k
            res[r, s, 2] = ins_n
            res[r, s, 3] = del_n
            res[r, s, 4] = sub_n
            if emit:
                keep = True
                if st == 0 and step == 1:
                    fw_wins = _forward_wins(res, r)
                    if not fw_wins and _too_close(res, r):
                        aln_len[r] = -1
                        continue
                    keep = (s == 0) == fw_wins
                if keep:
                    o = aln_off[r]
                    cap = m + n
                    aln_out[o : o + k] = a
                    aln_out[o + cap : o + cap + k] = b
                    aln_len[r] = k


@numba.njit(cache=True, nogil=True, inline="always")
def _forward_wins(res, r):
    """The forward strand is kept unless the reverse's identity is higher (rounding is monotonic, so an
    unrounded forward at least as high is certain; a higher reverse near a tie: :func:`_too_close`)."""
    fw = 100 * res[r, 0, 0] / np.float64(res[r, 0, 1])
    rv = 100 * res[r, 1, 0] / np.float64(res[r, 1, 1])
    return rv <= fw


@numba.njit(cache=True, nogil=True, inline="always")
def _too_close(res, r):
    """Both strands' identities within the 3-decimal rounding of :func:`identity_score`: the kernel
    does not round as Python does, so the caller decides these (rare) reads."""
    fw = 100 * res[r, 0, 0] / np.float64(res[r, 0, 1])
    rv = 100 * res[r, 1, 0] / np.float64(res[r, 1, 1])
    return abs(rv - fw) <= 0.0011


def align_and_call(
    aligner: Aligner,
    buf: np.ndarray,
    offs: np.ndarray,
    strands: np.ndarray,
    include: np.ndarray,
    order: np.ndarray | None = None,
    res: np.ndarray | None = None,
    seeds: tuple[np.ndarray, int] | None = None,
    emit: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Align many reads (concatenated in ``buf``) to one reference and call them in the window.

    ``order`` (e.g. reads sorted by sequence) lets consecutive reads share DP rows; only the reads
    it lists are aligned, into rows of ``res`` (allocated when not given). ``seeds`` (from
    :func:`seed_table`) is needed for reads whose strand is :data:`BY_SEEDS`; their decided strand
    is written into ``strands``. ``emit`` = (buffer, offsets, lengths) from :func:`alignment_slots` keeps
    each read's alignment on its chosen strand (see :func:`_align_batch`).
    """
    table, seed_k = seeds if seeds is not None else (np.zeros(1, dtype=np.uint16), 1)
    if order is None:
        order = np.arange(offs.shape[0] - 1, dtype=np.int64)
    longest = int(np.max(np.diff(offs))) if offs.shape[0] > 1 else 0
    aligner._buffers(max(longest, 1))
    if res is None:
        res = np.zeros((offs.shape[0] - 1, 2, 5), dtype=np.int64)
    band = aligner.band if aligner.band is not None else 1 << 30
    per_gap2 = 2 * (max(aligner.gap_open, aligner.gap_extend) + max(0, aligner.max_inc))
    _align_batch(
        buf,
        offs,
        order,
        strands,
        aligner.ref_b,
        aligner.inc,
        EDNAFULL,
        aligner.gap_open,
        aligner.gap_extend,
        band,
        per_gap2,
        include,
        _COMP_TABLE,
        aligner._ptr,
        aligner._out_a,
        aligner._out_b,
        aligner._S,
        aligner._prev,
        aligner._state,
        res,
        table,
        seed_k,
        emit is not None,
        *(emit if emit is not None else _NO_EMIT),
    )
    return res


_NO_EMIT = (np.zeros(1, dtype=np.uint8), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))


def alignment_slots(offs: np.ndarray, ref_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Room for one alignment per read (read and reference rows, ``ref_len + len(read)`` bytes each)."""
    sizes = 2 * (ref_len + np.diff(offs))
    starts = np.zeros(sizes.shape[0], dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    return np.empty(int(sizes.sum()), dtype=np.uint8), starts, np.full(sizes.shape[0], -1, dtype=np.int64)


@numba.njit(cache=True, nogil=True)
def call_many(buf, starts, lengths, caps, include, out):
    """:func:`call_read` of many alignments in one buffer (read row at ``starts[j]``, reference row
    ``caps[j]`` bytes later, ``lengths[j]`` columns): ``out[j]`` = insertions, deletions, substitutions."""
    for j in range(starts.shape[0]):
        o = starts[j]
        k = lengths[j]
        ins_n, del_n, sub_n, _, _, _ = call_read(buf[o : o + k], buf[o + caps[j] : o + caps[j] + k], include)
        out[j, 0] = ins_n
        out[j, 1] = del_n
        out[j, 2] = sub_n
