"""Large deletions from simulated long-read amplicons with known truth."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgtqc.errors import InputError
from cgtqc.seq.editing.largedel.engine import call_large_deletions, read_long_reads, size_histogram
from cgtqc.seq.editing.largedel.sim import simulate_long_read_amplicons


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return simulate_long_read_amplicons(tmp_path_factory.mktemp("ld"), n_reads=800, error_rate=0.03, seed=11)


@pytest.fixture(scope="module")
def result(sample):
    return call_large_deletions(sample.reads_fastq, sample.reference_fasta, threads=2)


def test_recall_and_size_accuracy(sample, result):
    calls = {c.read: c for c in result.calls}
    truth = [t for t in sample.reads if t.outcome == "large_deletion"]
    assert len(truth) > 100
    assert min(t.deletion_size for t in truth) < 80 and max(t.deletion_size for t in truth) > 3000
    hits = [t for t in truth if calls[t.name].deletion is not None
            and abs(calls[t.name].deletion.size - t.deletion_size) <= 5]
    assert len(hits) / len(truth) >= 0.95
    # breakpoints where the truth put them (within microhomology/error slack)
    near = [t for t in hits if abs(calls[t.name].deletion.start - t.deletion_start) <= 10]
    assert len(near) / len(truth) >= 0.9
    both = {c.deletion.method for c in calls.values() if c.deletion}
    assert both == {"gapped", "split"}


def test_no_false_calls_and_truncated_reads_left_out(sample, result):
    calls = {c.read: c for c in result.calls}
    for t in sample.reads:
        if t.outcome in ("unmodified", "small_indel"):
            assert calls[t.name].deletion is None, t
            assert calls[t.name].spanning, t
        if t.outcome == "truncated":
            assert not calls[t.name].spanning, t


def test_percentage_interval_and_histogram(sample, result):
    spanning = [t for t in sample.reads if t.outcome != "truncated"]
    true_pct = 100 * sum(t.outcome == "large_deletion" for t in spanning) / len(spanning)
    ld = result.large_deletion
    assert ld.total == len(spanning) == result.reads_spanning
    assert abs(ld.pct - true_pct) < 0.5
    assert ld.ci_low_pct < ld.pct < ld.ci_high_pct
    assert ld.ci_low_pct <= true_pct <= ld.ci_high_pct
    assert sum(result.size_histogram.values()) == ld.count
    assert all(c.passed for c in result.checks)
    d = result.to_dict(with_reads=True)
    assert len(d["calls"]) == 800 and d["provenance"]["inputs"][0]["sha256"]


def test_size_histogram_bins():
    h = size_histogram([50, 99, 100, 4999, 5000, 12000])
    assert h["50-99"] == 2 and h["100-249"] == 1 and h["2000-4999"] == 1 and h[">=5000"] == 2


@pytest.mark.parametrize(
    ("text", "place"),
    [("@r1\nACGT\n+\nIII\n", "record 1, line 4"), ("@r1\nACGT\n", "record 1, line 1"),
     ("r1\nACGT\n+\nIIII\n", "record 1, line 1"), ("@r1\nAXGT\n+\nIIII\n", "record 1, line 2")],
)
def test_malformed_reads(tmp_path, sample, text, place):
    fq = tmp_path / "bad.fastq"
    fq.write_text(text)
    with pytest.raises(InputError) as exc:
        call_large_deletions(fq, sample.reference_fasta)
    assert "bad.fastq" in str(exc.value) and exc.value.place == place


def test_empty_sample_and_bad_reference(tmp_path, sample):
    empty = tmp_path / "empty.fastq"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        call_large_deletions(empty, sample.reference_fasta)
    two = tmp_path / "two.fa"
    two.write_text(">a\nACGTACGT\n>b\nACGTACGT\n")
    with pytest.raises(InputError, match="one amplicon"):
        call_large_deletions(sample.reads_fastq, two)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=300))
def test_read_reader_fuzz(tmp_path_factory, data):
    fq = tmp_path_factory.mktemp("fz") / "r.fastq"
    fq.write_bytes(data)
    try:
        reads = list(read_long_reads(fq))
    except InputError as exc:
        assert "r.fastq" in str(exc)
    else:
        assert reads and all(seq for _, seq in reads)
