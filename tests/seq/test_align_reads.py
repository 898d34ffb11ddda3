"""Read streaming (FASTQ, FASTQ.gz, BAM) and alignment records (mappy and BAM give the same hits)."""

from __future__ import annotations

import gzip

import pysam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgtqc.errors import InputError
from cgtqc.seq.aav.sim import simulate_aav
from cgtqc.seq.align import AlignParams, ReadAligner, hits_from_records, uncovered
from cgtqc.seq.reads import Read, chunked, iter_bam_groups, iter_read_chunks, iter_reads, revcomp


def test_fastq_plain_gz_and_chunks(tmp_path):
    recs = [Read(f"r{i}", "ACGT" * (i + 1), "I" * 4 * (i + 1)) for i in range(7)]
    text = "".join(f"@{r.name}\n{r.seq}\n+\n{r.qual}\n" for r in recs)
    (tmp_path / "a.fastq").write_text(text)
    with gzip.open(tmp_path / "a.fastq.gz", "wt") as fh:
        fh.write(text)
    assert list(iter_reads(tmp_path / "a.fastq")) == recs
    chunks = list(iter_read_chunks(tmp_path / "a.fastq.gz", chunk_size=3))
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert [r for c in chunks for r in c] == recs
    with pytest.raises(ValueError):
        list(chunked(iter([1]), 0))


def test_bad_reads_raise_input_error(tmp_path):
    p = tmp_path / "bad.fastq"
    p.write_text("@r1\nACGT\n+\nIIII\n@r2\nAC!T\n+\nIIII\n")
    with pytest.raises(InputError, match="record 2"):
        list(iter_reads(p))
    q = tmp_path / "q.fastq"
    q.write_text("@r1\nACGT\n+\nIII\n")
    with pytest.raises(InputError):
        list(iter_reads(q))
    with pytest.raises(InputError, match="unknown read format"):
        (tmp_path / "x.txt").write_text("hello")
        list(iter_reads(tmp_path / "x.txt"))
    with pytest.raises(InputError, match="not found"):
        list(iter_reads(tmp_path / "missing.fastq"))


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="@+ACGTN!I\n", max_size=60))
def test_fastq_fuzz_only_input_error(tmp_path_factory, text):
    p = tmp_path_factory.mktemp("fq") / "f.fastq"
    p.write_text("@" + text)
    try:
        reads = list(iter_reads(p))
    except InputError:
        return
    assert all(set(r.seq) <= set("ACGTN") for r in reads)


def test_mappy_hits_equal_bam_hits(tmp_path):
    sim = simulate_aav(tmp_path / "s", n_reads=40, vector_type="sc", error_model="hifi", seed=5)
    aligner = ReadAligner(sim.vector, AlignParams(rescue_min=10**9))
    reads = list(iter_reads(sim.reads))
    header = {"HD": {"VN": "1.6", "SO": "queryname"}, "SQ": [{"SN": "simAAV", "LN": 5270}]}
    bam_path = tmp_path / "a.bam"
    expected = {}
    with pysam.AlignmentFile(str(bam_path), "wb", header=header) as bam:
        for r in reads:
            hits = [h for h in aligner.align(r) if h.kind in "PS"]
            expected[r.name] = [(h.rs, h.re, h.strand, h.qs, h.qe, h.kind) for h in hits]
            for h in hits:
                # write each hit as a record with soft clips (primary) or hard clips (supplementary)
                seg = pysam.AlignedSegment(bam.header)
                seg.query_name = r.name
                fwd = r.seq if h.strand > 0 else revcomp(r.seq)
                a, b = (h.qs, h.qe) if h.strand > 0 else (len(r.seq) - h.qe, len(r.seq) - h.qs)
                clip = 4 if h.kind == "P" else 5
                seg.query_sequence = fwd if clip == 4 else fwd[a:b]
                seg.flag = (16 if h.strand < 0 else 0) | (2048 if h.kind == "S" else 0)
                seg.reference_id = 0
                seg.reference_start = h.rs
                ops = [(clip, a)] if a else []
                ops.append((0, b - a)) if (b - a) == (h.re - h.rs) else ops.extend(
                    _approx(b - a, h.re - h.rs)
                )
                ops += [(clip, len(r.seq) - b)] if len(r.seq) - b else []
                seg.cigartuples = ops
                bam.write(seg)
    got = {}
    for group in iter_bam_groups(bam_path):
        read, hits = hits_from_records(group)
        got[read.name] = [(h.rs, h.re, h.strand, h.qs, h.qe, h.kind) for h in hits]
    assert got == {k: v for k, v in expected.items() if v}


def _approx(qlen, rlen):
    common = min(qlen, rlen)
    extra = [(1, qlen - common)] if qlen > common else [(2, rlen - common)]
    return [(0, common)] + extra


def test_uncovered_gaps():
    from cgtqc.seq.align import Hit

    hits = [Hit("v", 0, 100, 1, 100, 200, "P", 60, 100, 100)]
    assert uncovered(500, hits, 60) == [(0, 100), (200, 500)]
    assert uncovered(250, hits, 60) == [(0, 100)]
