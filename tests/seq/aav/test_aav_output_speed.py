"""What the speed work on `aav classify` relies on: tagged.bam is the same byte for byte whatever the number
of htslib compression threads and holds the same records at deflate level 1, the per-read table built from
buffers equals pyarrow's from_pylist without importing pandas, and importing the engine leaves numba to
the first ITR alignment."""

from __future__ import annotations

import random
import subprocess
import sys

import pyarrow as pa

from cgtqc.seq.aav import itr, output
from cgtqc.seq.aav.output import COLUMNS, AavWriter
from cgtqc.seq.reads import Read


def _reads(n: int) -> tuple[list[Read], pa.Table]:
    rng = random.Random(5)
    reads = [
        Read(
            f"r{i}",
            "".join(rng.choices("ACGT", k=3000)),
            "".join(rng.choices([chr(33 + q) for q in range(40)], k=3000)),
        )
        for i in range(n)
    ]
    rows = [
        {c: None for c in COLUMNS}
        | {"read_id": r.name, "class": "full", "laava_type": "ssAAV", "laava_subtype": "full", "length": 3000}
        | {"detail": "" if i % 3 else "itr_defect", "itr_left_config": "flip", "itr_right_config": ""}
        for i, r in enumerate(reads)
    ]
    return reads, pa.Table.from_pylist(rows, schema=output._SCHEMA)


def test_tagged_bam_bytes_do_not_depend_on_compression_threads(tmp_path, monkeypatch):
    reads, rows = _reads(150)  # 900 kb of bases and qualities: many 64-kb BGZF blocks
    written = []
    for threads in (0, 3):
        monkeypatch.setattr(output, "BAM_THREADS", threads)
        writer = AavWriter(tmp_path / str(threads))
        writer.write(rows.slice(0, 100), reads[:100])
        writer.write(rows.slice(100), reads[100:])
        writer.close()
        written.append((tmp_path / str(threads) / "tagged.bam").read_bytes())
    assert len(written[0]) > 200_000
    assert written[0] == written[1]


def test_itr_module_leaves_numba_to_the_first_call():
    code = "import sys; from cgtqc.seq.aav import engine, itr; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert itr.semiglobal(itr.encode("ACGTACGT"), itr.encode("TTACGTACGTTT"), 2, -4, 4, 1) == (16, 8, 0, 0)


def _naive_score(a: str, w: str) -> int:
    """Best score of all of ``a`` against part of ``w`` by plain recursion over the three Gotoh states
    (match +2, mismatch -4, a gap of L bases -(4 + L); N never matches): an independent check."""
    from functools import cache

    neg = -(10**9)

    @cache
    def best(i: int, j: int, state: str) -> int:  # a[:i] aligned, ending at w[:j], last column ``state``
        if i == 0:
            return 0 if state == "M" else neg  # free start in the window
        out = neg
        if state == "M" and j > 0:
            s = 2 if a[i - 1] == w[j - 1] and a[i - 1] != "N" else -4
            out = max(best(i - 1, j - 1, x) for x in "MDI") + s
        elif state == "D":  # ITR base against no window base
            out = max(best(i - 1, j, "M") - 5, best(i - 1, j, "I") - 5, best(i - 1, j, "D") - 1)
        elif state == "I" and j > 0:  # window base inside the alignment against no ITR base
            out = max(best(i, j - 1, "M") - 5, best(i, j - 1, "D") - 5, best(i, j - 1, "I") - 1)
        return out

    return max(best(len(a), j, x) for j in range(len(w) + 1) for x in "MDI")


def test_itr_kernel_scores_equal_plain_recursion():
    rng = random.Random(11)
    for _ in range(150):
        a = "".join(rng.choices("ACGTN", weights=[4, 4, 4, 4, 1], k=rng.randrange(1, 9)))
        w = "".join(rng.choices("ACGTN", weights=[4, 4, 4, 4, 1], k=rng.randrange(0, 13)))
        for traceback in (True, False):
            got = itr.semiglobal(itr.encode(a), itr.encode(w), 2, -4, 4, 1, traceback)[0]
            assert got == _naive_score(a, w), (a, w)


def test_per_read_table_equals_pyarrow_from_pylist():
    """The table built from its buffers holds the same values as pa.Table.from_pylist: nulls, empty and
    non-ASCII strings, None margins and intact flags."""
    rng = random.Random(3)
    strs = [None, "", "full", "ITR-flip", "é-ü", "ab\tc"]
    rows = [
        {c: rng.choice(strs) for c in COLUMNS}
        | {
            "length": rng.randrange(10**6),
            "itr_left_margin": rng.choice([None, 0, 94, -3]),
            "itr_right_margin": rng.choice([None, 7]),
            "itr_intact": rng.choice([None, True, False]),
        }
        for _ in range(300)
    ]
    for n in (0, 1, 8, 300):
        got = output._table(rows[:n])
        want = pa.Table.from_pylist(rows[:n], schema=output._SCHEMA)
        assert got.schema == want.schema
        assert got.to_pylist() == want.to_pylist()
        assert got.equals(want)


def test_per_read_table_leaves_pandas_unimported():
    code = (
        "import sys; from cgtqc.seq.aav import output; "
        "t = output._table([{c: None for c in output.COLUMNS} | {'read_id': 'r', 'length': 5}]); "
        "print(t.num_rows, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1 False"


def test_tagged_bam_at_level_1_holds_the_default_level_records(tmp_path, monkeypatch):
    """tagged.bam is deflated at level 1: larger than at htslib's default, a valid BAM for pysam, and the
    same BAM stream once inflated."""
    import gzip

    import pysam

    reads, rows = _reads(60)
    written = {}
    for level in (1, 6):
        monkeypatch.setattr(output, "BAM_LEVEL", level)
        writer = AavWriter(tmp_path / str(level))
        writer.write(rows, reads)
        writer.close()
        written[level] = tmp_path / str(level) / "tagged.bam"
    assert written[1].stat().st_size > written[6].stat().st_size
    assert gzip.open(written[1]).read() == gzip.open(written[6]).read()
    with pysam.AlignmentFile(str(written[1]), "rb", check_sq=False) as bam:
        recs = list(bam)
    assert [r.query_name for r in recs] == [r.name for r in reads]
    assert recs[0].get_tag("XC") == "full" and recs[0].query_sequence == reads[0].seq


def test_worker_threads_run_at_the_short_switch_interval_and_restore_it(tmp_path):
    """While worker threads classify, the GIL switch interval is the engine's short one; afterwards (and
    after a failed run) it is the caller's again. The reads file hashed beside the workers gives the same
    provenance as hashing it at the end."""
    import pytest

    from cgtqc.results import file_input
    from cgtqc.seq.aav import engine
    from cgtqc.seq.aav.construct import load_construct
    from cgtqc.seq.aav.sim import simulate_aav
    from cgtqc.seq.align import ReferenceSet

    sim = simulate_aav(tmp_path / "sim", n_reads=120, vector_type="ss", error_model="hifi", seed=4, mix="lot")
    construct = load_construct(sim.vector, sim.annotation)
    refs = ReferenceSet.from_files(sim.vector, sim.packaging, sim.host)
    before = sys.getswitchinterval()
    seen = []
    res = engine.classify_reads(
        sim.reads,
        construct,
        refs,
        vector_type="ss",
        threads=2,
        chunk_size=20,
        sink=lambda _r, _g: seen.append(sys.getswitchinterval()),
    )
    assert seen and set(seen) == {engine.SWITCH_INTERVAL}
    assert sys.getswitchinterval() == before
    assert res.provenance.inputs[0] == file_input(sim.reads.resolve())

    def fail(_r, _g):
        raise RuntimeError("sink failed")

    with pytest.raises(RuntimeError, match="sink failed"):
        engine.classify_reads(
            sim.reads, construct, refs, vector_type="ss", threads=2, chunk_size=20, sink=fail
        )
    assert sys.getswitchinterval() == before


def test_gc_freeze_registered_once_for_interpreter_exit(monkeypatch):
    import atexit
    import gc

    from cgtqc.seq.aav import engine

    registered = []
    monkeypatch.setattr(engine, "_EXIT_HOOK", [])
    monkeypatch.setattr(atexit, "register", registered.append)
    engine._freeze_at_exit()
    engine._freeze_at_exit()
    assert registered == [gc.freeze]


def test_cli_run_exits_cleanly_with_every_output(tmp_path):
    """A whole `cgtqc aav classify` process (gc frozen at exit) ends with status 0 and complete outputs."""
    import gzip
    import json

    from cgtqc.seq.aav.sim import simulate_aav

    sim = simulate_aav(tmp_path / "sim", n_reads=150, vector_type="ss", error_model="hifi", seed=6, mix="lot")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "cgtqc", "aav", "classify", "--reads", str(sim.reads), "--vector"]
    cmd += [str(sim.vector), "--annotation", str(sim.annotation), "--packaging", str(sim.packaging)]
    cmd += ["--host", str(sim.host), "--out", str(out), "--threads", "2", "--no-report", "--quiet"]
    subprocess.run(cmd, check=True, capture_output=True)
    assert json.loads((out / "summary.json").read_text())["reads_total"] == 150
    assert len(gzip.open(out / "per_read.tsv.gz", "rt").read().splitlines()) == 151
    assert gzip.open(out / "tagged.bam").read()  # complete BGZF stream
