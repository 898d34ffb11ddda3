"""CRISPResso2-compatible global aligner (the dynamic programme is compiled C: :mod:`._kernel`).

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

import numpy as np

try:  # not "from ... import": the package forwards names lazily
    import cgtqc.seq.editing._kernel as _kernel
except ImportError as exc:  # a checkout installed before the kernel existed, or built without a compiler
    raise ImportError(
        "the editing engine's compiled kernel (cgtqc.seq.editing._kernel) is not built: reinstall cgtqc "
        "(pip install -e .), which needs gcc and the Python headers (Debian: gcc python3-dev)"
    ) from exc

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
        self.inc = np.ascontiguousarray(incentive, dtype=np.int64)
        if self.inc.shape[0] != len(ref) + 1:
            raise ValueError("gap incentive must have len(ref) + 1 entries")
        self.max_inc = int(self.inc.max()) if self.inc.size else 0
        self.band = band
        self.gap_open = gap_open
        self.gap_extend = gap_extend
        self._ptr = np.zeros(1, dtype=np.uint8)
        self._S = np.zeros((len(ref) + 1, 1, 3), dtype=np.int64)
        self._prev = np.zeros(1, dtype=np.uint8)
        self._state = np.zeros(4, dtype=np.int64)
        self._out_a = np.zeros(1, dtype=np.uint8)
        self._out_b = np.zeros(1, dtype=np.uint8)

    def _buffers(self, n: int) -> None:
        """Work buffers for reads of up to ``n`` bases: traceback pointers ``(m+1)*(n+1)``, the scores
        (M, I, J) of every cell of every row, the previous read (whose rows the next may reuse)."""
        m = len(self.ref)
        if self._ptr.shape[0] < (m + 1) * (n + 1):
            self._ptr = np.zeros((m + 1) * (n + 65), dtype=np.uint8)
        if self._S.shape[1] < n + 2:
            self._S = np.zeros((m + 1, n + 66, 3), dtype=np.int64)
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
        k, ident = _kernel.align(
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
