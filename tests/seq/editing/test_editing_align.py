"""The aligner against CRISPResso2 2.3.4's own alignments and against the recurrence written plainly.

The vectors below were produced by CRISPResso2Align.global_align (EDNAFULL, open -20, extend -2,
incentive 1 after the cut) on reads chosen for its tie-breaking corners: a mismatch at either end,
a deletion and an insertion at the cut, a truncated read, an N, a junk prefix.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.seq.editing.edits import apply_edits

from cgtqc.seq.editing.align import EDNAFULL, Aligner, global_align, identity_score

REF = (
    "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAAT"
    "CCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGG"
)
C2_ALIGNMENTS = [
    (
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGA",
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGA",
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        99.18,
    ),
    (
        "TGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        "TGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        99.18,
    ),
    (
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCACGCTTTTCCGAGCTTCTGGCGG",
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCA----------CGCTTTTCCGAGCTTCTGGCGG",
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        91.803,
    ),
    (
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCAGGTCCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCAGGTCCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCA---CCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        97.6,
    ),
    (
        "CAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        "--------------------CAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        83.607,
    ),
    (
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCNTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGAT",
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCNTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGAT----------------------",
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        81.148,
    ),
    (
        "ACGTACGTACGTACGTACGTCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        "ACGTACGTAC------GTACGTAC---GTC--CGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        "-CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        86.179,
    ),
    (
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACTGGATCGCTTTTCCGAGCTTCTGGCGGC",
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCA-CTGGATCGCTTTTCCGAGCTTCTGGCGGC",
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGCTTTTCCGAGCTTCTGGCGG-",
        98.374,
    ),
    (
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCTTACCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCG--AGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCTTACCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGC--ACCTGGATCGCTTTTCCGAGCTTCTGGCGG",
        96.774,
    ),
]


def _incentive(ref: str, at: int = 93) -> np.ndarray:
    inc = np.zeros(len(ref) + 1, dtype=np.int64)
    if at < len(inc):
        inc[at] = 1
    return inc


def test_matches_crispresso2_alignments():
    aligner = Aligner(REF, _incentive(REF))
    for read, aln_read, aln_ref, score in C2_ALIGNMENTS:
        assert aligner.align(read) == (aln_read, aln_ref, score)


def _reference_dp(
    read: str, ref: str, inc: np.ndarray, go: int = -20, ge: int = -2
) -> tuple[str, str, float]:
    """The Gotoh recurrence as documented (full matrices, plain Python), for comparison."""
    m, n = len(ref), len(read)
    lo_val = go * n * m
    M = [[0] * (n + 1) for _ in range(m + 1)]
    Ii = [[0] * (n + 1) for _ in range(m + 1)]
    Jj = [[0] * (n + 1) for _ in range(m + 1)]
    pM = [[0] * (n + 1) for _ in range(m + 1)]
    pI = [[0] * (n + 1) for _ in range(m + 1)]
    pJ = [[0] * (n + 1) for _ in range(m + 1)]
    for j in range(1, n + 1):
        M[0][j], Ii[0][j], Jj[0][j], pM[0][j], pI[0][j] = lo_val, ge * j + inc[0], lo_val, 2, 2
    for i in range(1, m + 1):
        M[i][0], Ii[i][0], Jj[i][0], pM[i][0], pJ[i][0] = lo_val, lo_val, ge * i + inc[0], 3, 3
    Ii[0][0] = Jj[0][0] = lo_val
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            op = ge if (i == m or j == n) else go
            a, b = op + M[i][j - 1] + inc[i], ge + Ii[i][j - 1] + inc[i]
            Ii[i][j], pI[i][j] = (a, 1) if a > b else (b, 2)
            a, b = op + M[i - 1][j] + inc[i - 1], ge + Jj[i - 1][j]
            Jj[i][j], pJ[i][j] = (a, 1) if a > b else (b, 3)
            s = int(EDNAFULL[ord(ref[i - 1]), ord(read[j - 1])])
            mv, iv, jv = M[i - 1][j - 1] + s, Ii[i - 1][j - 1] + s, Jj[i - 1][j - 1] + s
            if mv > jv:
                M[i][j], pM[i][j] = (mv, 1) if mv > iv else (iv, 2)
            else:
                M[i][j], pM[i][j] = (jv, 3) if jv > iv else (iv, 2)
    fm, fi, fj = M[m][n], Ii[m][n], Jj[m][n]
    cur = (1 if fm > fi else 2) if fm > fj else (3 if fj > fi else 2)
    i, j, out_a, out_b, same = m, n, [], [], 0
    while i > 0 or j > 0:
        if cur == 1:
            out_a.append(read[j - 1])
            out_b.append(ref[i - 1])
            same += read[j - 1] == ref[i - 1]
            cur = pM[i][j]
            i, j = i - 1, j - 1
        elif cur == 3:
            out_a.append("-")
            out_b.append(ref[i - 1])
            cur = pJ[i][j]
            i -= 1
        else:
            out_a.append(read[j - 1])
            out_b.append("-")
            cur = pI[i][j]
            j -= 1
    return "".join(reversed(out_a)), "".join(reversed(out_b)), identity_score(same, len(out_a))


_dna = st.text(alphabet="ACGT", min_size=3, max_size=40)


@settings(max_examples=50, deadline=None)
@given(
    ref=_dna,
    edits=st.lists(st.tuples(st.integers(0, 39), st.sampled_from("ACGTN-+")), max_size=6),
    cut=st.integers(0, 40),
)
def test_banded_equals_full_recurrence(ref, edits, cut):
    read = list(ref)
    for pos, what in edits:
        if not read:
            break
        p = pos % len(read)
        if what == "-":
            del read[p]
        elif what == "+":
            read.insert(p, "G")
        else:
            read[p] = what
    read_s = "".join(read) or "A"
    inc = _incentive(ref, cut)
    expected = _reference_dp(read_s, ref, inc)
    assert global_align(read_s, ref, inc, band=1) == expected
    assert global_align(read_s, ref, inc, band=None) == expected


def test_empty_read_is_all_deletion():
    a, b, score = Aligner("ACGTACGT", _incentive("ACGTACGT", 0)).align("")
    assert a == "-" * 8 and b == "ACGTACGT" and score == 0.0


def _lcs_dp(a: str, b: str) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


@settings(max_examples=50, deadline=None)
@given(
    a=st.text(alphabet="ACGTN", min_size=0, max_size=150),
    b=st.text(alphabet="ACGTN", min_size=1, max_size=150),
)
def test_bit_parallel_lcs_equals_dynamic_programme(a, b):
    """The bound that lets the batch aligner skip a strand is an exact LCS (multi-word included)."""
    from cgtqc.seq.editing.batch import lcs_length

    ref = np.frombuffer(b.encode(), dtype=np.uint8)
    assert lcs_length(np.frombuffer(a.encode(), dtype=np.uint8), ref) == _lcs_dp(a, b)


@settings(max_examples=30, deadline=None)
@given(
    ref=st.text(alphabet="ACGT", min_size=20, max_size=90),
    edits=st.lists(st.tuples(st.integers(0, 89), st.sampled_from("ACGT-+")), max_size=8),
    reverse=st.booleans(),
    cut=st.integers(0, 90),
)
def test_both_strand_choice_unchanged_by_skipping(ref, edits, reverse, cut):
    """Strand 0 (both): the batch kernel picks the same strand and calls as aligning both fully."""
    from cgtqc.seq.editing.align import reverse_complement
    from cgtqc.seq.editing.batch import align_and_call

    read_s = apply_edits(ref, edits)
    if reverse:
        read_s = reverse_complement(read_s)
    inc = _incentive(ref, cut % (len(ref) + 1))
    include = np.ones(len(ref), dtype=np.bool_)
    aligner = Aligner(ref, inc)
    buf = np.frombuffer(read_s.encode(), dtype=np.uint8)
    res = align_and_call(aligner, buf, np.array([0, len(read_s)]), np.array([0]), include)
    fw, rv = res[0].tolist()
    got = rv if identity_score(rv[0], rv[1]) > identity_score(fw[0], fw[1]) else fw
    full_fw = global_align(read_s, ref, inc, band=None)
    full_rv = global_align(reverse_complement(read_s), ref, inc, band=None)
    want = full_rv if full_rv[2] > full_fw[2] else full_fw
    assert identity_score(got[0], got[1]) == want[2]
    assert got[1] == len(want[0])
