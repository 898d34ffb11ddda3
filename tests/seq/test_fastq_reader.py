"""The one FASTQ reader (cgtqc.seq.fastq) behind every engine: the same records as the readers it replaced
on valid input, and one InputError naming the file, the record and its line on malformed input.

References: pysam's FastxFile (what the AAV engine's reader was built on; the large-deletion engine's own
reader gave the same names and sequences) and the editing engine's former record-by-record reader,
restated below.
"""

from __future__ import annotations

import gzip
import random

import pysam
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cgtqc.errors import InputError
from cgtqc.seq.editing.largedel.engine import read_long_reads
from cgtqc.seq.fastq import (
    chunked,
    count_sequences,
    fastx_kind,
    iter_fastq_reads,
    read_chunks,
    read_fastq,
)
from cgtqc.seq.reads import Read, iter_fastx, iter_read_chunks, iter_reads

_ALPHABET = set("ACGTNacgtn")


def _record_by_record(path):
    """The editing engine's former checked reader, one record at a time: (name, seq, qual) or ValueError."""
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    out = []
    with opener(path, "rt", encoding="ascii", errors="replace", newline=None) as fh:
        while header := fh.readline():
            if header.strip() == "":
                if fh.read().strip():
                    raise ValueError("blank line inside the file")
                break
            seq, plus, qual = fh.readline(), fh.readline(), fh.readline()
            if not header.startswith("@") or not qual or not plus.startswith("+"):
                raise ValueError("bad header, separator or truncated record")
            seq, qual = seq.strip(), qual.strip()
            if len(seq) != len(qual) or not _ALPHABET.issuperset(seq):
                raise ValueError("bad sequence or quality")
            out.append((header[1:].strip(), seq, qual))
    return out


def _pysam_records(path):
    with pysam.FastxFile(str(path)) as fh:
        return [(r.name, r.sequence, r.quality) for r in fh]


_ids = st.text(alphabet="ABCXYZabcxyz0123456789:/_-.|=", min_size=1, max_size=12)
_comments = st.one_of(st.just(""), st.text(alphabet="ab12= \t", max_size=8).map(lambda c: " " + c))
_quals = st.characters(min_codepoint=33, max_codepoint=126)  # '!'..'~', '@' and '+' included


@st.composite
def _records(draw, min_len=1):
    """One valid 4-line record: (header line, sequence, quality)."""
    seq = draw(st.text(alphabet="ACGTNacgtn", min_size=min_len, max_size=40))
    qual = "".join(draw(st.lists(_quals, min_size=len(seq), max_size=len(seq))))
    return "@" + draw(_ids) + draw(_comments), seq, qual


def _write(path, records, *, crlf=False, blank_tail=0, gz=False, spaces=False):
    sep = "\r\n" if crlf else "\n"
    pad = "  " if spaces else ""
    lines = [x for h, s, q in records for x in (h, s + pad, "+", q + pad)] + [""] * blank_tail
    text = sep.join(lines) + sep
    data = text.encode("ascii")
    if gz:
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


_files = dict(crlf=st.booleans(), blank_tail=st.integers(0, 9), gz=st.booleans(), spaces=st.booleans())


@settings(max_examples=80, deadline=None)
@given(records=st.lists(_records(min_len=0), max_size=12), size=st.integers(1, 4), **_files)
def test_editing_records_equal_the_record_by_record_reader(
    tmp_path_factory, records, size, crlf, blank_tail, gz, spaces
):
    """read_fastq, read_chunks (any chunk size) and count_sequences give what the old reader gave."""
    path = tmp_path_factory.mktemp("fq") / ("r.fastq.gz" if gz else "r.fastq")
    _write(path, records, crlf=crlf, blank_tail=blank_tail, gz=gz, spaces=spaces)
    want = _record_by_record(path)
    assert want == [(h[1:].strip(), s, q) for h, s, q in records]
    assert [(r.name, r.sequence, r.quality) for r in read_fastq(path)] == want
    chunks = list(read_chunks(path, size))
    got = [zip(c.names, c.sequences, c.qualities, strict=True) for c in chunks]
    assert [r for recs in got for r in recs] == want
    assert [c.first_record for c in chunks] == [1 + sum(map(len, chunks[:i])) for i in range(len(chunks))]
    counts = count_sequences(path)
    assert counts.reads == len(records) and sum(counts.counts.values()) == len(records)
    assert list(counts.counts) == list(dict.fromkeys(s for _, s, _ in want))


@settings(max_examples=80, deadline=None)
@given(records=st.lists(_records(), min_size=1, max_size=12), **_files)
def test_long_reads_equal_pysam(tmp_path_factory, records, crlf, blank_tail, gz, spaces):
    """iter_fastx / iter_reads (AAV) and read_long_reads (large deletions) give pysam's reads as before."""
    path = tmp_path_factory.mktemp("fq") / ("r.fastq.gz" if gz else "r.fastq")
    _write(path, records, crlf=crlf, blank_tail=blank_tail, gz=gz, spaces=spaces)
    if not spaces:  # pysam keeps stray spaces in the sequence; the old readers refused such files
        want = _pysam_records(path)
        assert [(n, s) for n, s, _ in want] == [(h[1:].split()[0], s) for h, s, _ in records]
    want = [(h[1:].split()[0], s, q) for h, s, q in records]
    assert list(iter_fastx(path)) == [Read(n, s.upper(), q) for n, s, q in want]
    assert list(iter_reads(path)) == [Read(n, s.upper(), q) for n, s, q in want]
    assert list(read_long_reads(path)) == [(n, s) for n, s, _ in want]
    assert list(iter_fastq_reads(path, size=2)) == want
    assert [len(c) for c in iter_read_chunks(path, chunk_size=5)] == [
        len(c) for c in chunked(iter(records), 5)
    ]


_FAULTS = ("no_at", "no_plus", "qual_len", "bad_char", "truncated", "blank_inside", "empty_seq")


@settings(max_examples=100, deadline=None)
@example(records=[("@a", "ACGT", "IIII")] * 2, fault="no_at", where=0, gz=False)
@given(
    records=st.lists(_records(), min_size=2, max_size=8),
    fault=st.sampled_from(_FAULTS),
    where=st.integers(0, 7),
    gz=st.booleans(),
)
def test_malformed_record_named_alike_by_every_reader(tmp_path_factory, records, fault, where, gz):
    """One fault in one record: every reader raises the same one-line InputError with record and line."""
    records = [list(r) for r in records]
    i = where % len(records)
    line = 4 * i + 1  # the file line at fault
    lines_per = [[h, s, "+", q] for h, s, q in records]
    if fault == "no_at":
        lines_per[i][0] = lines_per[i][0][1:] or "x"
        what = "'@'"
    elif fault == "no_plus":
        lines_per[i][2] = "-"
        what, line = "'+'", line + 2
    elif fault == "qual_len":
        lines_per[i][3] += "I"
        what, line = "quality length", line + 3
    elif fault == "bad_char":
        s = lines_per[i][1]
        lines_per[i][1] = s[: len(s) // 2] + "X" + s[len(s) // 2 + 1 :]
        what, line = "characters", line + 1
    elif fault == "truncated":
        i = len(records) - 1
        lines_per[i] = lines_per[i][:2]
        what, line = "truncated", 4 * i + 1
    elif fault == "blank_inside":
        i = max(i, 1)
        lines_per.insert(i, [""])
        what, line = "blank line inside", 4 * i + 1
    else:
        lines_per[i][1] = lines_per[i][3] = ""
        what, line = "empty sequence", line + 1
    text = "\n".join(x for rec in lines_per for x in rec) + "\n"
    path = tmp_path_factory.mktemp("bad") / ("bad.fastq.gz" if gz else "bad.fastq")
    path.write_bytes(gzip.compress(text.encode(), mtime=0) if gz else text.encode())
    place = f"record {i + 1}, line {line}"
    long_readers = [iter_fastx, read_long_reads, lambda p: iter_fastq_reads(p, size=1)]
    editing_readers = [read_fastq, lambda p: read_chunks(p, 1), read_chunks, count_sequences]
    readers = long_readers + (editing_readers if fault != "empty_seq" else [])
    messages = set()
    for reader in readers:
        with pytest.raises(InputError) as err:
            out = reader(path)
            if not hasattr(out, "counts"):
                list(out)
        assert err.value.file == str(path) and err.value.place == place, (reader, str(err.value))
        assert what in err.value.message and "\n" not in str(err.value)
        messages.add(str(err.value))
    assert len(messages) == 1
    if fault == "empty_seq":  # an empty read is fine for the editing engine (CRISPResso2 counts it)
        assert [r.sequence for r in read_fastq(path)][i] == ""


def test_records_across_block_boundaries(tmp_path):
    """A file over several 4 MB read blocks: records cut by a block end, numbering across chunks."""
    rng = random.Random(3)
    records = []
    for k in range(2500):
        seq = "".join(rng.choice("ACGT") for _ in range(rng.randint(500, 3000)))
        records.append((f"@m{k}/ccs np=3", seq, "".join(rng.choice("!#5?I~") for _ in seq)))
    path = _write(tmp_path / "big.fastq", records, blank_tail=5)
    assert path.stat().st_size > 2 * (1 << 22)
    assert list(read_long_reads(path)) == [(n, s) for n, s, _ in _pysam_records(path)]
    assert [(r.name, r.sequence, r.quality) for r in read_fastq(path)] == _record_by_record(path)
    assert sum(len(c) for c in read_chunks(path, 100)) == 2500
    bad = list(records)
    bad[2222] = (bad[2222][0], bad[2222][1][:-1] + "?", bad[2222][2])
    path = _write(tmp_path / "bad.fastq", bad)
    for reader in (iter_fastx, read_fastq, lambda p: read_chunks(p, 100)):
        with pytest.raises(InputError, match=r"bad\.fastq: record 2223, line 8890: .*characters"):
            list(reader(path))


def test_file_kind_and_empty_files(tmp_path):
    fa = tmp_path / "r.fa.gz"
    fa.write_bytes(gzip.compress(b"\n\n>r1 x\nacgtn\nACGT\n"))
    assert fastx_kind(fa) == "fasta"
    assert list(iter_fastx(fa)) == [Read("r1", "ACGTNACGT")]
    assert list(read_long_reads(fa)) == [("r1", "acgtnACGT")]
    fq = tmp_path / "r.fastq"
    fq.write_text("@r1\nACGT\n+\nIIII\n")
    assert fastx_kind(fq) == "fastq"
    for text in ("", "\n \n\t\n"):
        empty = tmp_path / "empty.fastq"
        empty.write_text(text)
        for reader in (read_long_reads, iter_fastx, iter_reads):
            with pytest.raises(InputError, match=r"empty\.fastq: .*(no reads|unknown read format)"):
                list(reader(empty))
    with pytest.raises(InputError, match="not found"):
        fastx_kind(tmp_path / "missing.fastq")


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6))
def test_corrupt_gzip_gives_input_error(tmp_path_factory, cuts):
    """Changed bytes in a gzip stream (bad CRC, invalid deflate data, early end): InputError, no crash."""
    data = bytearray(gzip.compress(b"".join(b"@r%d\nACGTACGT\n+\nIIIIIIII\n" % k for k in range(3000))))
    for pos, byte in cuts:
        data[10 + pos % (len(data) - 10)] = byte
    path = tmp_path_factory.mktemp("gz") / "c.fastq.gz"
    path.write_bytes(bytes(data))
    for reader in (read_fastq, read_chunks, read_long_reads, iter_reads, count_sequences):
        try:
            out = reader(path)
            if not hasattr(out, "counts"):
                list(out)
        except InputError as exc:
            assert exc.file == str(path)


@given(items=st.lists(st.integers(), max_size=30), size=st.integers(1, 7))
def test_chunked(items, size):
    chunks = list(chunked(iter(items), size))
    assert [x for c in chunks for x in c] == items
    assert all(len(c) == size for c in chunks[:-1]) and all(0 < len(c) <= size for c in chunks)
    with pytest.raises(ValueError):
        list(chunked(iter(items), 0))
