"""CRISPResso2-compatible global aligner, compiled with numba.

Why a re-implementation: CRISPResso2's numbers come from its own three-state Gotoh aligner, whose
tie-breaking, end-gap rules and cut-site incentive decide where an indel is placed and therefore
whether it falls inside the quantification window. To reproduce its counts exactly we keep the
same recurrence (written from its published description, not copied):

* scores from EDNAFULL (+5 match, -4 mismatch, N -2, N/N -1; letters outside the table score 0);
* gap open -20, gap extend -2; a gap that starts in the last row or the last column of the matrix
  (a trailing end gap) pays the extend score instead of the open score; leading end gaps cost
  ``extend * length + incentive[0]``;
* ``incentive[i]`` is added to every insertion column after reference base ``i`` (open and extend)
  and to the opening of a deletion that starts after reference base ``i``;
* ties prefer insertion over deletion over match, and extension over opening;
* identity score = 100 * identical columns / alignment columns, rounded to 3 decimals.

Speed without changing results: the dynamic programme first runs in a diagonal band around the
offsets the read can need. A band result is accepted only with a proof that no path leaving the
band can score as high (an upper bound from the number of gap columns it must contain); ties are
then decided by the same in-band cells as the full matrix, so the traceback is identical.
Otherwise the band widens, up to the full matrix.
"""

from __future__ import annotations

import gc
import sys

import numba
import numpy as np

GAP_OPEN = -20
GAP_EXTEND = -2
GAP = 45  # ord('-')

_EDNAFULL_LETTERS = "ATGCSWRYKMBVHDNU"
_EDNAFULL_ROWS = """
 5 -4 -4 -4 -4  1  1 -4 -4  1 -4 -1 -1 -1 -2 -4
-4  5 -4 -4 -4  1 -4  1  1 -4 -1 -4 -1 -1 -2  5
-4 -4  5 -4  1 -4  1 -4  1 -4 -1 -1 -4 -1 -2 -4
-4 -4 -4  5  1 -4 -4  1 -4  1 -1 -1 -1 -4 -2 -4
-4 -4  1  1 -1 -4 -2 -2 -2 -2 -1 -1 -3 -3 -1 -4
 1  1 -4 -4 -4 -1 -2 -2 -2 -2 -3 -3 -1 -1 -1  1
 1 -4  1 -4 -2 -2 -1 -4 -2 -2 -3 -1 -3 -1 -1 -4
-4  1 -4  1 -2 -2 -4 -1 -2 -2 -1 -3 -1 -3 -1  1
-4  1  1 -4 -2 -2 -2 -2 -1 -4 -1 -3 -3 -1 -1  1
 1 -4 -4  1 -2 -2 -2 -2 -4 -1 -3 -1 -1 -3 -1 -4
-4 -1 -1 -1 -1 -3 -3 -1 -1 -3 -1 -2 -2 -2 -1 -1
-1 -4 -1 -1 -1 -3 -1 -3 -3 -1 -2 -1 -2 -2 -1 -4
-1 -1 -4 -1 -3 -1 -3 -1 -3 -1 -2 -2 -1 -2 -1 -1
-1 -1 -1 -4 -3 -1 -1 -3 -1 -3 -2 -2 -2 -1 -1 -1
-2 -2 -2 -2 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -2
-4  5 -4 -4 -4  1 -4  1  1 -4 -1 -4 -1 -1 -2  5
"""


def ednafull() -> np.ndarray:
    """The EDNAFULL substitution matrix indexed by byte value: ``m[ord(ref), ord(read)]``."""
    m = np.zeros((256, 256), dtype=np.int64)
    rows = [[int(v) for v in line.split()] for line in _EDNAFULL_ROWS.strip().splitlines()]
    for a, row in zip(_EDNAFULL_LETTERS, rows, strict=True):
        for b, v in zip(_EDNAFULL_LETTERS, row, strict=True):
            m[ord(a), ord(b)] = v
    return m


EDNAFULL = ednafull()
_MAX_MATCH = 5  # the largest entry of EDNAFULL: bound for the band certificate

# pointer codes, as in the recurrence: which matrix the predecessor is in
_M, _I, _J = 1, 2, 3


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _dp(read, ref, inc, mat, gap_open, gap_extend, lo, hi, ptr, out_read, out_ref, S, start_row):
    """Fill the band lo <= i - j <= hi, trace back.

    Returns (n_columns, n_identical, best_score).

    ``ptr`` is a flat uint8 work array of at least (m+1)*(n+1) cells (pointer of M in bits 0-1,
    of I in bits 2-3, of J in bits 4-5); ``S`` an integer (3, m+1, n+2) score array (M, I, J).
    Rows before ``start_row`` are taken as already
    computed (by the previous read, identical in the columns those rows use). The alignment is
    written reversed into ``out_read``/``out_ref`` (length >= m + n).
    """
    m = ref.shape[0]
    n = read.shape[0]
    w = n + 1
    min_score = gap_open * n * m
    neg = S[0, 0, 0] - S[0, 0, 0] - (1 << 28)  # "-infinity" of the score array's integer type
    if start_row <= 1:
        start_row = 1
        pm = S[0, 0]
        pi = S[1, 0]
        pj = S[2, 0]
        for j in range(n + 2):
            pm[j] = neg
            pi[j] = neg
            pj[j] = neg
        # row 0
        jmax0 = min(n, -lo)
        pm[0] = 0
        pi[0] = min_score
        pj[0] = min_score
        ptr[0] = 0
        for j in range(1, jmax0 + 1):
            pm[j] = min_score
            pi[j] = gap_extend * j + inc[0]
            pj[j] = min_score
            ptr[j] = _I | (_I << 2)
    for i in range(start_row, m + 1):
        jlo = max(1, i - hi)
        jhi = min(n, i - lo)
        rowp = i * w
        pm = S[0, i - 1]
        pi = S[1, i - 1]
        pj = S[2, i - 1]
        cm = S[0, i]
        ci_ = S[1, i]
        cj = S[2, i]
        # cells of this row outside the band stay at -inf for the next row
        cm[jhi + 1] = neg
        ci_[jhi + 1] = neg
        cj[jhi + 1] = neg
        if jlo == 1 and i <= hi:
            left_m = min_score
            left_i = min_score
            cm[0] = min_score
            ci_[0] = min_score
            cj[0] = gap_extend * i + inc[0]
            ptr[rowp] = _J | (_J << 4)
        else:
            left_m = neg
            left_i = neg
            cm[jlo - 1] = neg
            ci_[jlo - 1] = neg
            cj[jlo - 1] = neg
        diag_m = pm[jlo - 1]
        diag_i = pi[jlo - 1]
        diag_j = pj[jlo - 1]
        c_ref = ref[i - 1]
        inc_i = inc[i]
        inc_im1 = inc[i - 1]
        op_row = gap_extend if i == m else gap_open
        srow = mat[c_ref]
        for j in range(jlo, jhi + 1):
            up_m = pm[j]
            up_i = pi[j]
            up_j = pj[j]
            op = gap_extend if j == n else op_row
            # I: read base inserted (gap in the reference), from the left; ties extend
            i_from_m = op + left_m + inc_i
            i_ext = gap_extend + left_i + inc_i
            i_open = i_from_m > i_ext
            iv = i_from_m if i_open else i_ext
            # J: reference base deleted (gap in the read), from above; ties extend
            j_from_m = op + up_m + inc_im1
            j_ext = gap_extend + up_j
            j_open = j_from_m > j_ext
            jv = j_from_m if j_open else j_ext
            # M: ties prefer I, then J, then M
            sc = srow[read[j - 1]]
            mv = diag_m + sc
            iv2 = diag_i + sc
            jv2 = diag_j + sc
            take_m = mv > jv2 and mv > iv2
            take_j = (not take_m) and jv2 > iv2 and jv2 >= mv
            best = mv if take_m else (jv2 if take_j else iv2)
            mcode = _M if take_m else (_J if take_j else _I)
            code = mcode | ((_M if i_open else _I) << 2) | ((_M if j_open else _J) << 4)
            cm[j] = best
            ci_[j] = iv
            cj[j] = jv
            ptr[rowp + j] = code
            left_m = best
            left_i = iv
            diag_m = up_m
            diag_i = up_i
            diag_j = up_j
    fm = S[0, m, n]
    fi = S[1, m, n]
    fj = S[2, m, n]
    if fm > fj:
        if fm > fi:
            cur = _M
            final = fm
        else:
            cur = _I
            final = fi
    else:
        if fj > fi:
            cur = _J
            final = fj
        else:
            cur = _I
            final = fi
    i = m
    j = n
    k = 0
    ident = 0
    while i > 0 or j > 0:
        p = ptr[i * w + j]
        if cur == _M:
            cr = ref[i - 1] if i > 0 else ref[0]
            cq = read[j - 1] if j > 0 else read[0]
            out_read[k] = cq
            out_ref[k] = cr
            if cq == cr:
                ident += 1
            cur = p & 3
            i = i - 1 if i > 0 else 0
            j = j - 1 if j > 0 else 0
        elif cur == _J:
            cr = ref[i - 1] if i > 0 else ref[0]
            out_read[k] = GAP
            out_ref[k] = cr
            cur = (p >> 4) & 3
            i = i - 1 if i > 0 else 0
        else:
            cq = read[j - 1] if j > 0 else read[0]
            out_read[k] = cq
            out_ref[k] = GAP
            cur = (p >> 2) & 3
            j = j - 1 if j > 0 else 0
        k += 1
    return k, ident, final


@numba.njit(cache=True, nogil=True)
def _edge_bound2(S, m, n, lo, hi, per_gap2):
    """Twice an upper bound of any path leaving the band: its in-band prefix ends at a band-edge
    cell (bounded by that cell's DP value), the rest needs the exit gap and the gaps back to D."""
    d = m - n
    best = np.int64(-(1 << 50))
    for i in range(0, m + 1):
        if hi < m and i < m and i - hi >= 0:
            jb = i - hi
            pref = max(S[0, i, jb], max(S[1, i, jb], S[2, i, jb]))
            best = max(best, _exit_bound2(pref, (m - i) + (n - jb), 1 + hi + 1 - d, per_gap2))
        if lo > -n and i - lo < n and i - lo >= 0:
            jb = i - lo
            pref = max(S[0, i, jb], max(S[1, i, jb], S[2, i, jb]))
            best = max(best, _exit_bound2(pref, (m - i) + (n - jb), 1 + d - lo + 1, per_gap2))
    return best


@numba.njit(cache=True, nogil=True, inline="always")
def _exit_bound2(pref, rest, gaps, per_gap2):
    """Twice the best possible score of a path from a band-edge cell with value ``pref`` that still
    has ``rest`` bases to consume and needs at least ``gaps`` gap columns (each <= per_gap2 / 2,
    each aligned column <= +5)."""
    if rest < gaps:
        return np.int64(-(1 << 50))
    if per_gap2 >= _MAX_MATCH:
        return 2 * pref + per_gap2 * rest
    return 2 * pref + _MAX_MATCH * (rest - gaps) + per_gap2 * gaps


@numba.njit(cache=True, nogil=True)
def _single_gap_score(read, ref, mat, gap_open, gap_extend):
    """Score of the best alignment with at most one gap (a lower bound of the optimum in any band
    holding offsets 0..D): gapless when lengths are equal, else one deletion or insertion."""
    m = ref.shape[0]
    n = read.shape[0]
    d = m - n
    if d == 0:
        s = 0
        for k in range(m):
            s += mat[ref[k], read[k]]
        return s
    size = abs(d)
    short = min(m, n)
    gap = gap_open + (size - 1) * gap_extend
    # suffix sums at offset d, prefix sums at offset 0
    suf = np.zeros(short + 1, dtype=np.int64)
    for k in range(short - 1, -1, -1):
        if d > 0:
            suf[k] = suf[k + 1] + mat[ref[k + d], read[k]]
        else:
            suf[k] = suf[k + 1] + mat[ref[k], read[k - d]]
    best = suf[0] + gap
    pre = 0
    for p in range(1, short + 1):
        pre += mat[ref[p - 1], read[p - 1]]
        v = pre + suf[p] + gap
        if v > best:
            best = v
    return best


@numba.njit(cache=True, nogil=True)
def _outside_bound2(m, n, lo, hi, per_gap2):
    """Twice an upper bound of any path visiting an offset outside lo..hi, from its gap count only."""
    d = m - n
    g = m + n + 1
    if hi < m:
        g = min(g, abs(hi + 1) + abs(hi + 1 - d))
    if lo > -n:
        g = min(g, abs(lo - 1) + abs(lo - 1 - d))
    if g > m + n:
        return np.int64(-(1 << 50))
    if per_gap2 >= _MAX_MATCH:
        return per_gap2 * (m + n)
    return _MAX_MATCH * (m + n - g) + per_gap2 * g


@numba.njit(cache=True, nogil=True)
def _align_auto(
    read, ref, inc, mat, gap_open, gap_extend, band, per_gap2, ptr, out_read, out_ref, S, prev, state
):
    """Banded alignment, accepted only with a certificate of exactness; else the band widens.

    The band is accepted when the best in-band score beats both bounds on paths leaving it: the
    gap-count bound and the band-edge bound of :func:`_dp`. The first width is chosen so that the
    best single-gap alignment's score would already satisfy the gap-count bound (minus one).
    ``prev``/``state`` (length, lo, hi, valid) describe the previous read whose DP rows are still
    in ``S``: rows that only see its common prefix with this read are reused.
    """
    m = ref.shape[0]
    n = read.shape[0]
    d = m - n
    w = band
    w_sure = band
    if band < m + n and per_gap2 < _MAX_MATCH:
        lb = _single_gap_score(read, ref, mat, gap_open, gap_extend)
        g = (_MAX_MATCH * (m + n) - 2 * lb) // (_MAX_MATCH - per_gap2) + 1
        w_sure = max(1, (g - 2 - abs(d) + 1) // 2)
        if w_sure < band:
            w = w_sure - 1 if w_sure >= 3 else w_sure
            if state[3] == 1 and state[0] == n:
                w_prev = state[2] - max(0, d)
                if w <= w_prev <= w_sure + 1:
                    w = w_prev
    while True:
        lo = min(0, d) - w
        hi = max(0, d) + w
        full = lo <= -n and hi >= m
        if full:
            lo = -n
            hi = m
        start = 1
        if state[3] == 1 and state[0] == n and state[1] == lo and state[2] == hi:
            p = 0
            while p < n and prev[p] == read[p]:
                p += 1
            start = min(m, max(1, p + lo + 1))
        k, ident, final = _dp(
            read, ref, inc, mat, gap_open, gap_extend, lo, hi, ptr, out_read, out_ref, S, start
        )
        for t in range(n):
            prev[t] = read[t]
        state[0] = n
        state[1] = lo
        state[2] = hi
        state[3] = 1
        if (
            full
            or 2 * final > _outside_bound2(m, n, lo, hi, per_gap2)
            or 2 * final > _edge_bound2(S, m, n, lo, hi, per_gap2)
        ):
            return k, ident
        w = w_sure if w < w_sure else w * 3


def start_numba() -> None:
    """Start numba's CPU target without importing scipy.linalg (saves ~0.4 s per process).

    Loading the first compiled kernel (even from the on-disk cache) makes numba import its array
    and linear-algebra implementations; one of them probes ``scipy.linalg.cython_blas`` only to
    choose how ``np.convolve``/``np.correlate`` compute inner products, and importing scipy.linalg
    costs more than our whole alignment. Hiding that one module while numba starts makes the probe
    answer "no BLAS" (those two functions then use numba's own loop); every other BLAS use still
    imports scipy when it is compiled. Does nothing if numba or scipy.linalg is already started.

    Numba's type registries are then several hundred thousand long-lived Python objects that
    every full cyclic garbage collection (including the one at interpreter exit) would scan again,
    ~0.3 s of CPU per run; ``gc.freeze()`` moves the objects alive at this point to the permanent
    generation. Trade-off: cyclic garbage among objects that already existed now is no longer
    reclaimed (acyclic garbage still is, by reference counting); it happens once per process.
    """
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return
    blas = "scipy.linalg.cython_blas"
    hidden = blas not in sys.modules
    if hidden:
        sys.modules[blas] = None  # type: ignore[assignment]  # makes its import raise ImportError
    try:
        from numba.core.registry import cpu_target

        cpu_target.target_context.refresh()
    finally:
        if hidden and sys.modules.get(blas, 0) is None:
            del sys.modules[blas]
    gc.freeze()


class Aligner:
    """Aligns reads to one reference exactly as CRISPResso2 does; reuses its work buffers."""

    def __init__(
        self,
        ref: str,
        incentive: np.ndarray,
        band: int | None = 8,
        gap_open: int = GAP_OPEN,
        gap_extend: int = GAP_EXTEND,
    ) -> None:
        start_numba()
        self.ref = ref
        self.ref_b = np.frombuffer(ref.encode("ascii"), dtype=np.uint8)
        self.inc = np.asarray(incentive, dtype=np.int64)
        if self.inc.shape[0] != len(ref) + 1:
            raise ValueError("gap incentive must have len(ref) + 1 entries")
        self.max_inc = int(self.inc.max()) if self.inc.size else 0
        self.band = band
        self.gap_open = gap_open
        self.gap_extend = gap_extend
        self._ptr = np.zeros(1, dtype=np.uint8)
        self._S = np.zeros((3, len(ref) + 1, 1), dtype=np.int32)
        self._prev = np.zeros(1, dtype=np.uint8)
        self._state = np.zeros(4, dtype=np.int64)
        self._out_a = np.zeros(1, dtype=np.uint8)
        self._out_b = np.zeros(1, dtype=np.uint8)

    def _buffers(self, n: int) -> None:
        m = len(self.ref)
        if self._ptr.shape[0] < (m + 1) * (n + 1):
            self._ptr = np.zeros((m + 1) * (n + 65), dtype=np.uint8)
        if self._S.shape[2] < n + 2:
            # 32-bit scores while -20 * n * m and the -2**28 sentinel cannot overflow them
            dtype = np.int32 if 20 * (m + 1) * (n + 66) < (1 << 26) else np.int64
            self._S = np.zeros((3, m + 1, n + 66), dtype=dtype)
            self._prev = np.zeros(n + 66, dtype=np.uint8)
            self._state[:] = 0
        if self._out_a.shape[0] < m + n + 1:
            self._out_a = np.zeros(m + n + 65, dtype=np.uint8)
            self._out_b = np.zeros(m + n + 65, dtype=np.uint8)

    def align_bytes(self, read: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
        """Align a read (uint8 array); return (aligned read, aligned ref, identical, columns)."""
        m = self.ref_b.shape[0]
        n = read.shape[0]
        if n == 0:  # nothing to align: every reference base deleted, identity 0
            return np.full(m, GAP, dtype=np.uint8), self.ref_b.copy(), 0, m
        self._buffers(n)
        band = self.band if self.band is not None else m + n
        per_gap2 = 2 * (max(self.gap_open, self.gap_extend) + max(0, self.max_inc))
        k, ident = _align_auto(
            read,
            self.ref_b,
            self.inc,
            EDNAFULL,
            self.gap_open,
            self.gap_extend,
            band,
            per_gap2,
            self._ptr,
            self._out_a,
            self._out_b,
            self._S,
            self._prev,
            self._state,
        )
        return self._out_a[k - 1 :: -1].copy(), self._out_b[k - 1 :: -1].copy(), ident, k

    def align(self, read: str) -> tuple[str, str, float]:
        """(aligned read, aligned reference, identity score) like CRISPResso2's global_align."""
        rb = np.frombuffer(read.encode("ascii"), dtype=np.uint8)
        a, b, ident, k = self.align_bytes(rb)
        return a.tobytes().decode("ascii"), b.tobytes().decode("ascii"), identity_score(ident, k)


def identity_score(identical: int, columns: int) -> float:
    """100 * identical / columns rounded to 3 decimals, the same float arithmetic as CRISPResso2."""
    return round(100 * identical / float(columns), 3)


def global_align(
    read: str,
    ref: str,
    incentive: np.ndarray | None = None,
    band: int | None = 8,
    gap_open: int = GAP_OPEN,
    gap_extend: int = GAP_EXTEND,
) -> tuple[str, str, float]:
    """Align one read to one reference; convenience wrapper around :class:`Aligner`."""
    inc = np.zeros(len(ref) + 1, dtype=np.int64) if incentive is None else incentive
    return Aligner(ref, inc, band=band, gap_open=gap_open, gap_extend=gap_extend).align(read)


_COMP = str.maketrans("ACGTN_-", "TGCAN_-")


def reverse_complement(seq: str) -> str:
    """Reverse complement over A, C, G, T, N (other letters kept, as upper case)."""
    return seq.upper().translate(_COMP)[::-1]
