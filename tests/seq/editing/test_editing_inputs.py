"""Bad input: each case raises InputError naming the file and the record (or option) at fault."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cgtqc.cli.editing import app
from cgtqc.errors import InputError
from cgtqc.seq.editing.engine import quantify
from cgtqc.seq.fastq import consensus_from_pairs, read_chunks, read_fastq, read_pairs

AMP = (
    "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCG"
    "CTTTTCCGAGCTTCTGGCGGTCTCAAGCACTACCTACGTCAGCACCTGGGACCCCGCCACCGTGCGCCGGGCCTTGCAGTGGGCGCGCTACCTGCGCCACAT"
    "CCATCGGCGCTTTGGTCGG"
)
GUIDE = "GGAATCCCTTCTGCAGCACC"


def _fastq(path, seqs, names=None):
    names = names or [f"r{i}" for i in range(len(seqs))]
    path.write_text("".join(f"@{n}\n{s}\n+\n{'I' * len(s)}\n" for n, s in zip(names, seqs, strict=True)))
    return path


def test_reads_shorter_than_the_amplicon_window(tmp_path):
    fq = _fastq(tmp_path / "short.fastq", [AMP[80:110]] * 20)
    with pytest.raises(InputError) as err:
        quantify(fq, [AMP], guides=[GUIDE])
    assert "short.fastq" in str(err.value) and "30 bp" in str(err.value)


def test_amplicon_without_the_guide(tmp_path):
    fq = _fastq(tmp_path / "ok.fastq", [AMP] * 3)
    with pytest.raises(InputError) as err:
        quantify(fq, [AMP], guides=["ACGTACGTACGTACGTACGT"])
    assert "--guide_seq" in str(err.value) and "ACGTACGTACGTACGTACGT" in str(err.value)


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("@a\nACGT\n+\nIIII\n@b\nACGT\n+\n", "record 2", "truncated"),
        ("@a\nACGT\n+\nIIII\nb\nACGT\n+\nIIII\n", "record 2", "'@'"),
        ("@a\nACGT\n+\nIII\n", "record 1", "quality length"),
        ("@a\nACGT\nIIII\nIIII\n", "record 1", "'+'"),
        ("@a\nAC.T\n+\nIIII\n", "record 1", "characters"),
    ],
)
def test_malformed_fastq(tmp_path, text, where, what):
    fq = tmp_path / "bad.fastq"
    fq.write_text(text)
    for reader in (lambda p: list(read_fastq(p)), lambda p: list(read_chunks(p))):
        with pytest.raises(InputError) as err:
            reader(fq)
        msg = str(err.value)
        assert "bad.fastq" in msg and where in msg and what in msg


def test_gzip_and_trailing_blank_lines(tmp_path):
    fq = tmp_path / "x.fastq.gz"
    with gzip.open(fq, "wt") as fh:
        fh.write("@a\nACGT\n+\nIIII\n@b\nACGA\n+\nIIII\n\n\n")
    assert [r.sequence for r in read_fastq(fq)] == ["ACGT", "ACGA"]
    assert [s for c in read_chunks(fq, size=1) for s in c.sequences] == ["ACGT", "ACGA"]


def test_mismatched_pairs(tmp_path):
    r1 = _fastq(tmp_path / "r1.fastq", ["ACGT", "ACGT"], ["p1/1", "p2/1"])
    r2 = _fastq(tmp_path / "r2.fastq", ["ACGT"], ["p1/2"])
    with pytest.raises(InputError) as err:
        list(read_pairs(r1, r2))
    assert "r2.fastq" in str(err.value) and "record 2" in str(err.value)
    r3 = _fastq(tmp_path / "r3.fastq", ["ACGT", "ACGT"], ["p1/2", "p9/2"])
    with pytest.raises(InputError) as err:
        list(read_pairs(r1, r3))
    assert "r3.fastq" in str(err.value) and "record 2" in str(err.value) and "p9" in str(err.value)


def test_unsupported_crispresso_option_is_refused_by_name(tmp_path):
    fq = _fastq(tmp_path / "ok.fastq", [AMP] * 3)
    res = CliRunner().invoke(app, ["quantify", "-r1", str(fq), "-a", AMP, "--plot_window_size", "20"])
    assert isinstance(res.exception, InputError)
    assert "--plot_window_size" in str(res.exception)


def test_cli_json_and_files(tmp_path):
    fq = _fastq(tmp_path / "ok.fastq", [AMP] * 3 + [AMP[:90] + AMP[95:]])
    res = CliRunner().invoke(
        app,
        [
            "quantify",
            "-r1",
            str(fq),
            "-a",
            AMP,
            "-g",
            GUIDE,
            "-o",
            str(tmp_path / "o"),
            "--json",
            "--suppress_report",
        ],
    )
    assert res.exit_code == 0, res.output
    assert '"reads_aligned_all_amplicons": 4' in res.output
    out = tmp_path / "o" / "CRISPResso_on_ok"  # CRISPResso2's layout under -o
    assert (out / "CRISPResso_quantification_of_editing_frequency.txt").exists()


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_fastq_fuzz_only_input_errors(tmp_path_factory, data):
    fq = tmp_path_factory.mktemp("fz") / "f.fastq"
    fq.write_bytes(data)
    try:
        list(read_chunks(fq))
    except InputError as exc:
        assert "f.fastq" in str(exc)


def test_consensus_prefers_quality_and_marks_uncacheable():
    # R1 covers the start, R2 the end; at position 5 they disagree (C vs T) and R2 has the better quality
    ref = "ACGTACGT"
    a1, r1 = "ACGTAC--", ref
    a2, r2 = "---TATGT", ref
    aln, qual, aref, score, cacheable = consensus_from_pairs(a1, r1, 90.0, "IIIII#", a2, r2, 80.0, "IIIII")
    assert aref == ref
    assert aln == "ACGTATGT" and not cacheable
    assert score == round(100 * 7 / 8, 3)


def _checked_counts(path):
    """Reference for count_sequences: the record-checked reader, counted in first-seen order."""
    counts: dict[str, int] = {}
    for chunk in read_chunks(path, 20_000):  # count_sequences' chunk size: same error reports
        for s in chunk.sequences:
            counts[s] = counts.get(s, 0) + 1
    return counts


_line = st.sampled_from(
    ["@r1", "@r2 x", "ACGT", "acgN", "AC", "ACGT ", "+", "+r", "IIII", "II", "", "  ", "A?GT", "r"]
)


_seqs = st.sampled_from(["ACGT", "ACGA", "TTN", "acgt", ""])
_record = st.tuples(st.sampled_from(["@a", "@b c"]), _seqs).map(
    lambda r: [r[0], r[1], "+", "I" * len(r[1])]
)
_lines = st.one_of(
    st.lists(_line, max_size=14),
    st.lists(_record, max_size=6).map(lambda recs: [x for r in recs for x in r]),
    st.tuples(st.lists(_record, max_size=4), st.lists(st.sampled_from(["", " "]), max_size=5)).map(
        lambda t: [x for r in t[0] for x in r] + t[1]
    ),
)


@settings(max_examples=50, deadline=None)
# an empty record then a blank line: the checked reader rejects it, so must the fast path
@example(lines=["@a", "", "+", "", " "], crlf=False, final_newline=False, gz=False)
@given(
    lines=_lines,
    crlf=st.booleans(),
    final_newline=st.booleans(),
    gz=st.booleans(),
)
def test_fast_sequence_counts_equal_checked_reader(tmp_path_factory, lines, crlf, final_newline, gz):
    """count_sequences (bytes fast path) accepts and counts exactly what read_chunks does, or raises alike."""
    from cgtqc.seq.fastq import count_sequences

    sep = "\r\n" if crlf else "\n"
    text = sep.join(lines) + (sep if final_newline and lines else "")
    path = tmp_path_factory.mktemp("fq") / ("r.fastq.gz" if gz else "r.fastq")
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(text.encode())
    else:
        path.write_bytes(text.encode())
    try:
        want = _checked_counts(path)
    except InputError as exc:
        with pytest.raises(InputError) as got:
            count_sequences(path)
        assert str(got.value) == str(exc)
        return
    got = count_sequences(path)
    assert got.counts == want and list(got.counts) == list(want)
    assert got.reads == sum(want.values())
    assert (got.sha256 is None) == gz


def test_quantify_path_imports_neither_scipy_linalg_nor_statsmodels(tmp_path):
    """Start-up cost: quantify must not pull in scipy.linalg (~0.4 s) or statsmodels (~0.5 s)."""
    import subprocess
    import sys

    fq = _fastq(tmp_path / "r.fastq", [AMP, AMP[:100] + AMP[103:]])
    code = (
        "import sys\n"
        "from cgtqc.seq.editing.engine import quantify\n"
        f"r = quantify({str(fq)!r}, [{AMP!r}], guides=[{GUIDE!r}])\n"
        "assert r.reads_aligned_all_amplicons == 2, r.reads_aligned_all_amplicons\n"
        "bad = [m for m in ('scipy.linalg', 'statsmodels', 'pandas') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "import scipy.linalg.cython_blas  # still importable afterwards\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
