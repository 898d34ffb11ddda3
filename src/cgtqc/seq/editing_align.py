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
def _dp(read, ref, inc, mat, gap_open, gap_extend, lo, hi, ptr, out_read, out_ref, rows):
    """Fill the band lo <= i - j <= hi, trace back, return (n_columns, n_identical, best_score).

    ``ptr`` is a flat uint8 work array of at least (m+1)*(n+1) cells (pointer of M in bits 0-1,
    of I in bits 2-3, of J in bits 4-5); ``rows`` an int64 (6, n+2) work array. The alignment is
    written reversed into ``out_read``/``out_ref`` (length >= m + n).
    """
    m = ref.shape[0]
    n = read.shape[0]
    w = n + 1
    min_score = gap_open * n * m
    neg = np.int64(-(1 << 50))
    pm = rows[0]
    pi = rows[1]
    pj = rows[2]
    cm = rows[3]
    ci_ = rows[4]
    cj = rows[5]
    for j in range(n + 2):
        pm[j] = neg
        pi[j] = neg
        pj[j] = neg
        cm[j] = neg
        ci_[j] = neg
        cj[j] = neg
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
    for i in range(1, m + 1):
        jlo = max(1, i - hi)
        jhi = min(n, i - lo)
        rowp = i * w
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
        for j in range(jlo, jhi + 1):
            up_m = pm[j]
            up_i = pi[j]
            up_j = pj[j]
            op = gap_extend if j == n else op_row
            # I: read base inserted (gap in the reference), from the left
            i_from_m = op + left_m + inc_i
            i_ext = gap_extend + left_i + inc_i
            if i_from_m > i_ext:
                iv = i_from_m
                code = _M << 2
            else:
                iv = i_ext
                code = _I << 2
            # J: reference base deleted (gap in the read), from above
            j_from_m = op + up_m + inc_im1
            j_ext = gap_extend + up_j
            if j_from_m > j_ext:
                jv = j_from_m
                code |= _M << 4
            else:
                jv = j_ext
                code |= _J << 4
            sc = mat[c_ref, read[j - 1]]
            mv = diag_m + sc
            iv2 = diag_i + sc
            jv2 = diag_j + sc
            if mv > jv2:
                if mv > iv2:
                    best = mv
                    code |= _M
                else:
                    best = iv2
                    code |= _I
            else:
                if jv2 > iv2:
                    best = jv2
                    code |= _J
                else:
                    best = iv2
                    code |= _I
            cm[j] = best
            ci_[j] = iv
            cj[j] = jv
            ptr[rowp + j] = code
            left_m = best
            left_i = iv
            diag_m = up_m
            diag_i = up_i
            diag_j = up_j
        pm, cm = cm, pm
        pi, ci_ = ci_, pi
        pj, cj = cj, pj
    # the final cell (m, n) is in the "previous" row now
    fm = pm[n]
    fi = pi[n]
    fj = pj[n]
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


def _band_is_exact(final: int, m: int, n: int, lo: int, hi: int, max_inc: int, max_gap: int) -> bool:
    """True when no alignment path leaving the band lo..hi can reach the band's best score.

    A path visiting offset o = i - j needs at least |o| + |o - D| gap columns (D = m - n); each
    gap column scores at most -2 + max incentive and each aligned column at most +5.
    """
    d = m - n
    per_gap2 = 2 * (max_gap + max(0, max_inc))  # doubled, to stay in integers
    if per_gap2 >= _MAX_MATCH:
        return lo <= -n and hi >= m
    g = None
    if hi < m:
        o = hi + 1
        g = abs(o) + abs(o - d)
    if lo > -n:
        o = lo - 1
        go = abs(o) + abs(o - d)
        g = go if g is None else min(g, go)
    if g is None:
        return True
    g = min(g, m + n)
    upper2 = _MAX_MATCH * (m + n - g) + per_gap2 * g
    return 2 * final > upper2


@numba.njit(cache=True, nogil=True)
def _gapless_score(read, ref, mat):
    s = 0
    for k in range(ref.shape[0]):
        s += mat[ref[k], read[k]]
    return s


def _band_for_gapless(score: int, m: int, per_gap2: int) -> int:
    """Smallest band half-width whose certificate a gapless score of ``score`` already satisfies.

    For equal lengths (D = 0) a path leaving the band needs g >= 2w + 2 gap columns; it is beaten
    when 2 * score > 5 * (2m - g) + per_gap2 * g.
    """
    if per_gap2 >= _MAX_MATCH:
        return m
    slope = _MAX_MATCH - per_gap2  # doubled loss per extra gap column
    need = 2 * _MAX_MATCH * m - 2 * score  # 2 * (5 * 2m / 2 - score), doubled
    g = need // slope + 1
    return max(1, (g - 2 + 1) // 2)


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
        self._rows = np.zeros((6, 1), dtype=np.int64)
        self._out_a = np.zeros(1, dtype=np.uint8)
        self._out_b = np.zeros(1, dtype=np.uint8)

    def _buffers(self, n: int) -> None:
        m = len(self.ref)
        if self._ptr.shape[0] < (m + 1) * (n + 1):
            self._ptr = np.zeros((m + 1) * (n + 65), dtype=np.uint8)
        if self._rows.shape[1] < n + 2:
            self._rows = np.zeros((6, n + 66), dtype=np.int64)
        if self._out_a.shape[0] < m + n + 1:
            self._out_a = np.zeros(m + n + 65, dtype=np.uint8)
            self._out_b = np.zeros(m + n + 65, dtype=np.uint8)

    def _per_gap2(self) -> int:
        return 2 * (max(self.gap_open, self.gap_extend) + max(0, self.max_inc))

    def align_bytes(self, read: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
        """Align a read (uint8 array); return (aligned read, aligned ref, identical, columns)."""
        m = self.ref_b.shape[0]
        n = read.shape[0]
        self._buffers(n)
        d = m - n
        w = self.band if self.band is not None else m + n
        if self.band is not None and d == 0:
            w = min(w, _band_for_gapless(_gapless_score(read, self.ref_b, EDNAFULL), m, self._per_gap2()))
        while True:
            lo = min(0, d) - w
            hi = max(0, d) + w
            full = lo <= -n and hi >= m
            if full:
                lo, hi = -n, m
            k, ident, final = _dp(
                read,
                self.ref_b,
                self.inc,
                EDNAFULL,
                self.gap_open,
                self.gap_extend,
                lo,
                hi,
                self._ptr,
                self._out_a,
                self._out_b,
                self._rows,
            )
            if full or _band_is_exact(final, m, n, lo, hi, self.max_inc, max(self.gap_open, self.gap_extend)):
                break
            w *= 4
        return self._out_a[:k][::-1].copy(), self._out_b[:k][::-1].copy(), ident, k

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
