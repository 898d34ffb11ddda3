"""Chunks of reads for the runner: every record exactly once, in order, as written; mates cut together;
all records of one read of an aligned BAM in one chunk; bad input named against the original file."""

from __future__ import annotations

import gzip
from pathlib import Path

import pysam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgtqc.errors import InputError
from cgtqc.seq.chunks import split_reads
from cgtqc.seq.fastq import read_fastq


def _fastq(path: Path, n: int, prefix: str = "r", gz: bool = False) -> Path:
    text = "".join(
        f"@{prefix}{i} extra words\n{'acgtN'[i % 5] * (i % 7)}\n+\n{'I' * (i % 7)}\n" for i in range(n)
    )
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), size=st.integers(1, 50), gz=st.booleans())
def test_every_fastq_record_once_in_order_as_written(tmp_path_factory, n, size, gz):
    tmp = tmp_path_factory.mktemp("c")
    reads = _fastq(tmp / ("r.fastq.gz" if gz else "r.fastq"), n, gz=gz)
    chunks = split_reads({"fastq": [reads]}, ("fastq",), size, tmp / "work")
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert [c.first_read for c in chunks] == [i * size for i in range(len(chunks))]
    got = [r for c in chunks for r in read_fastq(c.files["fastq"])]
    assert got == list(read_fastq(reads))  # headers, case and empty reads kept
    assert all(c.n_reads <= size for c in chunks) and sum(c.n_reads for c in chunks) == n
    again = split_reads({"fastq": [reads]}, ("fastq",), size, tmp / "work")
    assert [Path(c.files["fastq"]).read_bytes() for c in again] == [
        Path(c.files["fastq"]).read_bytes() for c in chunks
    ]


def test_mates_are_cut_together_and_must_match(tmp_path):
    r1, r2 = _fastq(tmp_path / "a_R1.fastq", 23, "p"), _fastq(tmp_path / "a_R2.fastq", 23, "p")
    chunks = split_reads({"fastq": [r1], "fastq-r2": [r2]}, ("fastq", "fastq-r2"), 5, tmp_path / "w")
    for c in chunks:
        names1 = [r.name for r in read_fastq(c.files["fastq"])]
        assert names1 == [r.name for r in read_fastq(c.files["fastq-r2"])] and len(names1) == c.n_reads
    short = _fastq(tmp_path / "b_R2.fastq", 22, "p")
    with pytest.raises(InputError, match="mate files differ in length") as info:
        split_reads({"fastq": [r1], "fastq-r2": [short]}, ("fastq", "fastq-r2"), 5, tmp_path / "w2")
    assert "b_R2.fastq" in str(info.value)


def test_whole_file_is_one_chunk_without_copy(tmp_path):
    reads = _fastq(tmp_path / "r.fastq", 9)
    (chunk,) = split_reads({"fastq": [reads]}, ("fastq",), None, tmp_path / "w")
    assert chunk.files == {"fastq": str(reads)} and not (tmp_path / "w").exists()


def test_malformed_record_names_the_original_file(tmp_path):
    bad = tmp_path / "bad.fastq"
    bad.write_text("@r1\nACGT\n+\nIIII\n@r2\nACGT\nIIII\n")
    with pytest.raises(InputError) as info:
        split_reads({"fastq": [bad]}, ("fastq",), 1, tmp_path / "w")
    assert str(info.value).startswith(f"{bad}: record 2")


def test_aligned_bam_keeps_each_reads_records_together(tmp_path):
    header = {"HD": {"VN": "1.6", "SO": "queryname"}, "SQ": [{"SN": "vec", "LN": 1000}]}
    path = tmp_path / "aln.bam"
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for i in range(10):
            for k in range(1 + i % 3):  # a primary and up to two supplementary records
                rec = pysam.AlignedSegment(out.header)
                rec.query_name, rec.reference_id, rec.reference_start = f"read{i:02d}", 0, 10 * k
                rec.query_sequence, rec.cigarstring = "ACGTACGTAC", "10M"
                rec.flag = 0 if k == 0 else 2048
                rec.query_qualities = pysam.qualitystring_to_array("IIIIIIIIII")
                out.write(rec)
    chunks = split_reads({"reads": [path]}, ("reads",), 4, tmp_path / "w")
    assert [c.n_reads for c in chunks] == [4, 4, 2]
    names = []
    for c in chunks:
        with pysam.AlignmentFile(c.files["reads"], "rb", check_sq=False) as bam:
            recs = list(bam)
        assert len({r.query_name for r in recs}) == c.n_reads
        names += [r.query_name for r in recs]
    assert names == sorted(names) and len(names) == sum(1 + i % 3 for i in range(10))
