"""The compiled kernels (cgtqc.seq.editing._kernel, cgtqc.seq._fastq): bad arguments raise Python errors
instead of crashing, each table helper equals a plain-Python statement of CRISPResso2's rule, and the engine
loads without numba."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.seq.editing.edits import apply_edits

from cgtqc.seq.editing.align import EDNAFULL, Aligner
from cgtqc.seq.editing.batch import align_and_call, alignment_slots
from cgtqc.seq.editing.classify import add_base_counts, call_read

REF = "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCG"  # 50 bases


def _u8(s: str) -> np.ndarray:
    return np.frombuffer(s.encode(), dtype=np.uint8)


def _work(aligner: Aligner, n: int) -> list:
    aligner._buffers(n)
    return [aligner.ref_b, aligner.inc, EDNAFULL, -20, -2, 8, -4, aligner._ptr, aligner._out_a,
            aligner._out_b, aligner._S, aligner._prev, aligner._state]


def test_align_refuses_bad_arguments():
    from cgtqc.seq.editing import _kernel

    a = Aligner(REF, np.zeros(len(REF) + 1, dtype=np.int64))
    read = _u8(REF[:40])
    work = _work(a, 40)
    assert _kernel.align(read, *work)[0] == len(REF)
    with pytest.raises(TypeError, match="read"):
        _kernel.align(read.astype(np.int64), *work)
    with pytest.raises(TypeError, match="S"):
        _kernel.align(read, *work[:10], a._S.astype(np.int32), *work[11:])
    with pytest.raises(ValueError, match="S"):
        _kernel.align(read, *work[:10], np.zeros((3, len(REF) + 1, 60), dtype=np.int64), *work[11:])
    with pytest.raises(ValueError, match="S"):
        _kernel.align(_u8(REF * 3), *work)  # longer than the buffers were made for
    with pytest.raises(ValueError, match="mat"):
        _kernel.align(read, *work[:2], EDNAFULL[:100], *work[3:])
    with pytest.raises(TypeError, match="ptr"):
        _kernel.align(read, *work[:7], bytes(a._ptr), *work[8:])  # not writable
    with pytest.raises(TypeError):
        _kernel.align(read, *work[:-1])
    with pytest.raises(TypeError, match="contiguous"):
        _kernel.align(read[::2], *work)


def test_batch_refuses_out_of_range_offsets_and_order():
    a = Aligner(REF, np.zeros(len(REF) + 1, dtype=np.int64))
    buf = _u8(REF + REF)
    include = np.ones(len(REF), dtype=np.bool_)
    st_ = np.zeros(2, dtype=np.int64)
    with pytest.raises(ValueError, match="offs"):
        align_and_call(a, buf, np.array([0, 50, 40]), st_, include)
    with pytest.raises(ValueError, match="order"):
        align_and_call(a, buf, np.array([0, 50, 100]), st_, include, order=np.array([0, 2]))
    with pytest.raises(ValueError, match="res"):
        align_and_call(a, buf, np.array([0, 50, 100]), st_, include, res=np.zeros((1, 2, 5), dtype=np.int64))
    with pytest.raises(TypeError, match="strands"):
        align_and_call(a, buf, np.array([0, 50, 100]), st_.astype(np.int32), include)
    emit = alignment_slots(np.array([0, 50, 100]), len(REF))
    small = (emit[0][:10], emit[1], emit[2])
    with pytest.raises(ValueError, match="aln_out"):
        align_and_call(a, buf, np.array([0, 50, 100]), st_, include, emit=small)
    res = align_and_call(a, buf, np.array([0, 50, 100]), st_, include, emit=emit)
    assert res[:, 0, :2].tolist() == [[50, 50], [50, 50]]


def test_calls_refuse_bad_arguments():
    include = np.ones(5, dtype=np.bool_)
    with pytest.raises(TypeError, match="include"):
        call_read(_u8("ACGTA"), _u8("ACGTA"), include.astype(np.int64))
    with pytest.raises(ValueError, match="aln_read"):
        call_read(_u8("ACG"), _u8("ACGTA"), include)
    with pytest.raises(ValueError, match="counts"):
        add_base_counts(_u8("ACGTA"), _u8("ACGTA"), np.zeros((5, 5), dtype=np.int64), 1)
    from cgtqc.seq.editing import _kernel
    from cgtqc.seq.editing.results import Allele

    def rows(alns, refs=None, names=None, reads=None, cls=Allele):
        n = len(alns)
        return _kernel.allele_rows(cls, alns, refs or [0] * n, names or ["R"] * n, reads or [1] * n,
                                   [include], "MODIFIED", "UNMODIFIED")

    with pytest.raises(ValueError, match="bad reference"):
        rows([("ACG", "ACGTA")])
    with pytest.raises(ValueError, match="bad reference"):
        rows([("ACGTA", "ACGTA")], refs=[1])
    with pytest.raises(TypeError, match="pair"):
        rows([("ACGTA", "ACGTA", 0)])
    with pytest.raises(ValueError, match="one entry"):
        rows([("ACGTA", "ACGTA")], names=["R", "S"])
    with pytest.raises(TypeError, match="tuple subclass"):
        rows([], cls=dict)
    got = rows([("AC-TA", "ACGTA"), ("ACGTA", "ACGTA"), ("ACGTA", "ACGTA")], reads=[3, 1, 0])
    assert got == [Allele("AC-TA", "ACGTA", "R", "MODIFIED", 1, 0, 0, 3),
                   Allele("ACGTA", "ACGTA", "R", "UNMODIFIED", 0, 0, 0, 1)]  # no row for 0 reads
    assert type(got[0]) is Allele and got[0].reads == 3
    buf, starts, lengths = alignment_slots(np.array([0, 5]), 5)
    with pytest.raises(ValueError, match="out of range"):
        _kernel.alignment_texts(buf, starts, lengths, 5, np.array([0, 5]), [1], [None])


def _plain_calls(a: str, b: str, include: list[bool]) -> tuple[int, int, int]:
    """CRISPResso2's window rules stated plainly: an insertion counts when the reference bases on both
    sides are in the window, a deletion when any deleted base is, a substitution (not to N) at its place."""
    L = len(include)
    ins = dels = subs = 0
    pos = -1  # reference index of the last reference base seen
    c = 0
    while c < len(b):
        if b[c] == "-":  # insertion run
            e = c
            while e < len(b) and b[e] == "-":
                e += 1
            if pos >= 0 and e < len(b) and include[pos] and pos + 1 < L and include[pos + 1]:
                ins += e - c
            c = e
            continue
        if a[c] == "-":  # deletion run (reference columns with a gap in the read; insertions end it too)
            e = c
            start = pos + 1
            while e < len(b) and a[e] == "-" and b[e] != "-":
                e += 1
            end = start + (e - c)
            if e < len(b) and b[e] == "-":  # CRISPResso2 ends a deletion at an insertion column
                end = -(pos + (e - c) + 1) if pos + (e - c) + 1 else -1
            if any(include[p] for p in range(max(start, 0), min(end, L))):
                dels += end - start
            pos += e - c
            c = e
            continue
        pos += 1
        if a[c] != b[c] and a[c] != "N" and include[pos]:
            subs += 1
        c += 1
    return ins, dels, subs


@settings(max_examples=80, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, 49), st.sampled_from("ACGTN-+")), max_size=6),
    window=st.tuples(st.integers(0, 49), st.integers(1, 20)),
)
def test_window_calls_match_the_rules(edits, window):
    read = apply_edits(REF, edits)
    a, b, _ = Aligner(REF, np.zeros(len(REF) + 1, dtype=np.int64)).align(read)
    include = [window[0] <= i < window[0] + window[1] for i in range(len(REF))]
    got = call_read(_u8(a), _u8(b), np.array(include, dtype=np.bool_))[:3]
    if "-" in b and any(b[c] == "-" and c > 0 and a[c - 1] == "-" for c in range(len(b))):
        return  # a deletion directly followed by an insertion: a corner the plain statement leaves out
    assert tuple(got) == _plain_calls(a, b, include)


def test_engine_loads_without_numba():
    code = "import sys, cgtqc.seq.editing.engine, cgtqc.cli.editing; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_fast_count_across_block_boundaries(tmp_path):
    """The compiled counting pass reads 1 MB blocks: records cut by a block edge are counted once, in
    first-seen order, exactly as the checked reader counts them."""
    import random

    from cgtqc.seq.fastq import count_sequences, read_chunks

    rng = random.Random(3)
    alleles = ["".join(rng.choice("ACGT") for _ in range(rng.randint(90, 160))) for _ in range(300)]
    recs = [rng.choice(alleles) for _ in range(20_000)]
    path = tmp_path / "r.fastq"
    path.write_text("".join(f"@r{i} x\n{s}\n+\n{'I' * len(s)}\n" for i, s in enumerate(recs)))
    want: dict[str, int] = {}
    for chunk in read_chunks(path):
        for s in chunk.sequences:
            want[s] = want.get(s, 0) + 1
    heard: list[str] = []
    got = count_sequences(path, on_new=heard.extend)
    assert got.counts == want and list(got.counts) == list(want) == heard
    assert got.reads == 20_000 and got.max_len == max(map(len, recs))
    import hashlib

    assert got.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def _around_plain(rows, total, cut, left, right):
    """The around-cut grouping as plain Python (the engine's code before the kernel took it over)."""
    def column(ref, cut):
        col = cut
        while True:
            nxt = cut + ref.count("-", 0, col + 1)
            if nxt == col:
                return col
            col = nxt

    groups = {}
    for a in rows:
        col = column(a.reference_sequence, cut)
        lo, hi = col - left + 1, col + right + 1
        key = (a.aligned_sequence[lo:hi], a.reference_sequence[lo:hi], a.read_status == "UNMODIFIED",
               a.n_deleted, a.n_inserted, a.n_mutated)
        p = a.reads / total * 100
        g = groups.get(key)
        if g is None:
            groups[key] = [a.reads, p, 0.0]
        else:
            g[0] += a.reads
            y = p - g[2]
            t = g[1] + y
            g[2] = t - g[1] - y
            g[1] = t
    lines = ["\t".join(["Aligned_Sequence", "Reference_Sequence", "Unedited", "n_deleted", "n_inserted",
                        "n_mutated", "#Reads", "%Reads"])]
    for k in sorted(groups, key=lambda k: (-groups[k][0], k)):
        reads, pct, _ = groups[k]
        lines.append(f"{k[0]}\t{k[1]}\t{k[2]}\t{k[3]}\t{k[4]}\t{k[5]}\t{int(reads)}\t{pct!r}")
    lines.append("")
    return "\n".join(lines)


_allele = st.tuples(
    st.text(alphabet="ACGT-", min_size=0, max_size=30),
    st.text(alphabet="ACG-", min_size=0, max_size=30),
    st.sampled_from(["UNMODIFIED", "MODIFIED"]),
    st.integers(0, 2),
    st.integers(0, 2),
    st.integers(0, 1),
    st.integers(1, 50),
)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(_allele, max_size=40), cut=st.integers(0, 30), left=st.integers(1, 8),
       right=st.integers(1, 8))
def test_around_cut_groups_equal_plain_python(rows, cut, left, right):
    from cgtqc.seq.editing.allele_table import around_cut_text
    from cgtqc.seq.editing.results import Allele

    alleles = [Allele(a[:5] or "A", r, "Reference", s, d, i, m, n) for a, r, s, d, i, m, n in rows]
    # few distinct windows, so that groups form: aligned rows are short prefixes of each other
    total = sum(a.reads for a in alleles) or 1
    want = _around_plain(alleles, total, cut, left, right)
    assert around_cut_text(alleles, total, cut, left, right) == want


@settings(max_examples=100, deadline=None)
@given(keys=st.lists(st.text(alphabet="ACGTNa", min_size=0, max_size=6), unique=True, max_size=30),
       counts=st.data())
def test_reverse_complement_merge_equals_plain_python(keys, counts):
    from cgtqc.seq.editing.align import reverse_complement
    from cgtqc.seq.editing.pipeline import merged_counts

    c = counts.draw(st.lists(st.integers(0, 5), min_size=len(keys), max_size=len(keys)))
    want = list(c)
    pos = {k: i for i, k in enumerate(keys)}
    for i, k in enumerate(keys):
        j = pos.get(reverse_complement(k))
        if j is None or want[i] == 0 or want[j] == 0:
            continue
        v = want[i] + want[j]
        want[j] = 0
        want[i] = v
    assert merged_counts(keys, c) == want


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["AC", "A-", "ACG", ""]), st.sampled_from(["AC", "A", "AG"]),
                               st.sampled_from(["Reference", "Amplicón"]), st.integers(0, 3),
                               st.integers(1, 4)), max_size=30))
def test_allele_table_sort_and_text_equal_plain_python(rows):
    """The compiled sort is pandas' stable three-key sort, the compiled lines the f-strings they replace."""
    from cgtqc.seq.editing.allele_table import allele_table_text, sorted_alleles
    from cgtqc.seq.editing.results import ALLELE_COLUMNS, Allele

    alleles = [Allele(a, r, name, "MODIFIED" if d else "UNMODIFIED", d, 0, 1, n) for a, r, name, d, n in rows]
    want = sorted(alleles, key=lambda x: x.reference_sequence)
    want.sort(key=lambda x: x.aligned_sequence)
    want.sort(key=lambda x: x.reads, reverse=True)
    got = sorted_alleles(alleles)
    assert got == want and [id(x) for x in got] == [id(x) for x in want]
    total = sum(a.reads for a in alleles) or 1
    lines = ["\t".join(ALLELE_COLUMNS)] + [
        f"{a.aligned_sequence}\t{a.reference_sequence}\t{a.reference_name}\t{a.read_status}\t{a.n_deleted}\t"
        f"{a.n_inserted}\t{a.n_mutated}\t{a.reads}\t{a.reads / total * 100!r}" for a in got
    ]
    assert allele_table_text(got, total) == "\n".join([*lines, ""])


def test_sequence_counter_refuses_misuse():
    from cgtqc.seq._fastq import SequenceCounter

    c = SequenceCounter()
    with pytest.raises(TypeError):
        c.feed("@r\nACGT\n+\nIIII\n")  # str, not bytes
    with pytest.raises(ValueError, match="result"):
        c.result()  # the end of the file not seen yet
    assert c.feed(b"@r\nAC") == []  # the record is not complete yet
    assert c.feed(b"GT\n+\nIIII\n@s\nACGT\n+\nIIII") == ["ACGT"]
    assert c.feed(b"") == []
    assert c.result() == ({"ACGT": 2}, 2, 4)
    with pytest.raises(ValueError, match="end of the file"):
        c.feed(b"@t\nA\n+\nI\n")
    bad = SequenceCounter()
    assert bad.feed(b"@r\nAXGT\n+\nIIII\n") is None  # left to the checked reader, which names the record
    assert bad.feed(b"more") is None


def test_early_count_equals_direct_count_and_raises_alike(tmp_path):
    """The command's early read (cgtqc.seq.editing.prefetch) hands the aligners the same sequences in the
    same order, gives the same result, and raises the reader's error in the caller."""
    import cgtqc.seq.editing.prefetch as prefetch
    from cgtqc.errors import InputError
    from cgtqc.seq.editing import engine
    from cgtqc.seq.editing.sim import simulate_reads

    amp = ("CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACC"
           "TGGATCGCTTTTCCGAGCTTCTGGCGG")
    sim = simulate_reads(amp, 30_000, cut_site=amp.index("GGAATCCC") + 16, indel_fraction=0.3,
                         n_indel_alleles=20, error_rate=0.01, seed=3)
    path = tmp_path / "r.fastq"
    sim.write_fastq(path)
    q = engine.setup_quantification([amp], guides=["GGAATCCCTTCTGCAGCACC"])
    direct = engine.quantify_reads(q, path, threads=2, alignments=True)
    prefetch.start(path)
    early = engine.quantify_reads(q, path, threads=2, alignments=True)
    assert prefetch.take(path, 20_000) is None  # taken once
    assert list(early.counts.items()) == list(direct.counts.items())
    assert early.variants == direct.variants and early.alignments == direct.alignments
    assert early.sha256 == direct.sha256
    bad = tmp_path / "bad.fastq"
    bad.write_text("@r1\nACGT\n+\nIIII\n@r2\nACXT\n+\nIIII\n")
    with pytest.raises(InputError) as want:
        engine.quantify_reads(q, bad)
    prefetch.start(bad)
    with pytest.raises(InputError) as got:
        engine.quantify_reads(q, bad)
    assert str(got.value) == str(want.value)
