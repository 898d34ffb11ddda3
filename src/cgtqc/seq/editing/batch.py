"""Many distinct reads aligned to one reference in one compiled call, with their window calls.

The kernel reads all sequences from one byte buffer (offsets per read), in an order that lets
consecutive reads share dynamic-programming rows, decides each read's strand from CRISPResso2's
seeds (a 2-bit k-mer lookup table), aligns it with the banded aligner of :mod:`.align` and calls
insertions, deletions and substitutions in the quantification window. For reads that must be aligned
on both strands, a bit-parallel longest-common-subsequence bound skips the strand that provably cannot
win the identity comparison. The kernel is compiled C (:mod:`._kernel`, ``align_batch``); these are its
rules:

``strands[r]``: 1 forward, -1 reverse complement, 0 both, 2 skip, 3 (:data:`BY_SEEDS`) decide from the
seed table (the decision is written back). ``res[r, s]`` for s = 0 (forward), 1 (reverse): identical
columns, columns, insertion_n, deletion_n, substitution_n (k = 0 when not aligned on that strand).

With both strands (0) only their identity scores are compared (the reverse wins only when strictly
higher). An alignment has at least max(len(read), len(ref)) columns and at most LCS(read, ref) identical
ones, so the strand with the larger such bound is aligned first and the other is skipped when its bound
proves it cannot change the choice (the reverse second: ``LCS_rv * k <= ident * longest``; the forward
second: only when below the reverse by more than the 3-decimal rounding of the identity could hide); a
skipped strand gets the row (0 identical, 1 column), identity 0, which loses the same comparison.

With ``emit``, the alignment on the strand the caller's comparison picks is kept: the aligned read at
``aln_out[aln_off[r]:]`` and the aligned reference ``len(ref) + len(read)`` bytes after it, its length in
``aln_len[r]``; -1 when not kept (both strands' identities within 0.0011, closer than the kernel's
unrounded comparison can call: the caller decides those rare reads).
"""

from __future__ import annotations

import numpy as np

from cgtqc.seq.editing.align import EDNAFULL, Aligner, _kernel

_COMP_TABLE = np.arange(256, dtype=np.uint8)
for _a, _b in zip(b"ACGTNacgtn", b"TGCANTGCAN", strict=True):
    _COMP_TABLE[_a] = _b


# SEED_MIN, SEED_COUNT and BY_SEEDS are #defines of the same values in _kernel_batch.c
SEED_MIN = 2  # a strand is chosen when more than this many of its seeds occur (and none of the other's)
SEED_COUNT = 5  # seeds used per strand
BY_SEEDS = 3  # strand code asking the batch kernel to decide the strand from the seed table


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


def lcs_length(read: np.ndarray, ref: np.ndarray) -> int:
    """Length of the longest common subsequence of two uint8 sequences: the bit-parallel bound with which
    the batch kernel skips a strand that cannot win (exposed for the tests)."""
    return _kernel.lcs_length(read, ref)


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
    each read's alignment on its chosen strand (see the module's documentation).
    """
    table, seed_k = seeds if seeds is not None else (np.zeros(4, dtype=np.uint16), 1)
    if order is None:
        order = np.arange(offs.shape[0] - 1, dtype=np.int64)
    longest = int(np.max(np.diff(offs))) if offs.shape[0] > 1 else 0
    aligner._buffers(max(longest, 1))
    if res is None:
        res = np.zeros((offs.shape[0] - 1, 2, 5), dtype=np.int64)
    band = aligner.band if aligner.band is not None else 1 << 30
    per_gap2 = 2 * (max(aligner.gap_open, aligner.gap_extend) + max(0, aligner.max_inc))
    _kernel.align_batch(
        buf,
        offs,
        order,
        strands,
        include,
        _COMP_TABLE,
        aligner.ref_b,
        aligner.inc,
        EDNAFULL,
        aligner.gap_open,
        aligner.gap_extend,
        band,
        per_gap2,
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
