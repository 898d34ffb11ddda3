"""Where the CPU time of `cgtqc aav classify` goes, stage by stage, on one thread.

Each stage runs on its own over the same reads and is timed in CPU seconds of this process
(``time.process_time``: user + system), so the split holds on a busy machine where wall time does not.
Light imports are timed in fresh interpreters, the heavy ones (numba, scipy.special) where cgtqc first
needs them. Needs the reads and references `aav_throughput.py` simulates
(``--work`` folder; simulated here when missing).

    .venv/bin/python benchmarks/aav_breakdown.py --work /tmp/aav_bench --reads 20000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORTS = {
    "cgtqc CLI (typer, rich, cgtqc.cli)": "import cgtqc.cli",
    "mappy": "import mappy",
    "pysam": "import pysam",
    "pyarrow + pyarrow.parquet": "import pyarrow.parquet",
}


def import_cpu(statement: str) -> float:
    """CPU seconds of one import statement in a fresh interpreter (after numpy, which everything uses)."""
    code = f"import time, numpy\nt = time.process_time()\n{statement}\nprint(time.process_time() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


class Clock:
    """CPU seconds per named stage, printed as they come."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, str]] = []

    def add(self, name: str, sec: float, note: str = "") -> None:
        self.rows.append((name, sec, note))
        print(f"{name}: {sec:.2f} CPU s {note}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--work", type=Path, default=Path("/tmp/aav_bench"))
    ap.add_argument("--reads", type=int, default=20_000)
    args = ap.parse_args()
    from cgtqc.seq.aav.sim import simulate_aav

    sim_dir = args.work / "sim"
    if not (sim_dir / "reads.fastq").exists():
        simulate_aav(
            sim_dir,
            n_reads=args.reads,
            vector_type="ss",
            error_model="hifi",
            seed=99,
            mix="lot",
            compress=False,
        )
    clock = Clock()
    for name, stmt in IMPORTS.items():
        clock.add(f"import {name}", import_cpu(stmt))

    import mappy

    from cgtqc.seq.aav.classes import AavParams
    from cgtqc.seq.aav.construct import load_construct
    from cgtqc.seq.aav.engine import build_context, given_vector_type, sample_result
    from cgtqc.seq.aav.laava import laava_call
    from cgtqc.seq.aav.output import AavWriter, per_read_table, write_summary
    from cgtqc.seq.aav.path import classify_read
    from cgtqc.seq.aav.stats import SampleStats
    from cgtqc.seq.align import AlignParams, ReadAligner, ReferenceSet
    from cgtqc.seq.reads import iter_reads
    from cgtqc.stats import wilson_interval

    fastq = sim_dir / "reads.fastq"
    construct = load_construct(sim_dir / "vector.fasta", sim_dir / "annotation.bed")
    refs = ReferenceSet.from_files(
        sim_dir / "vector.fasta", sim_dir / "packaging.fasta", sim_dir / "host.fasta"
    )
    tmp = Path(tempfile.mkdtemp())
    index = str(refs.write_fasta(tmp / "refs.fa"))
    ap_ = AlignParams()
    ctx = build_context(construct, refs, "ss", AavParams(), index, ap_)

    t = time.process_time()
    reads = list(iter_reads(fastq))
    clock.add(
        "FASTQ decode (cgtqc.seq.fastq, validated, upper case)",
        time.process_time() - t,
        f"({len(reads)} reads)",
    )
    t = time.process_time()
    n = sum(1 for _ in mappy.fastx_read(str(fastq)))
    clock.add("FASTQ decode (mappy.fastx_read, for comparison)", time.process_time() - t, f"({n} reads)")

    t = time.process_time()
    aligner = ReadAligner(index, ap_)
    vec = ReadAligner.from_sequence(construct.name, construct.seq, ap_, circular=True)
    clock.add("index builds (references + vector alone)", time.process_time() - t)

    raw = aligner._aligner
    t = time.process_time()
    for r in reads:
        for _ in raw.map(r.seq):
            pass
    clock.add("mappy.Aligner.map alone (new thread buffer per read)", time.process_time() - t)
    buf = mappy.ThreadBuffer()
    t = time.process_time()
    for r in reads:
        for _ in raw.map(r.seq, buf=buf):
            pass
    clock.add("mappy.Aligner.map alone (one thread buffer reused)", time.process_time() - t)
    t = time.process_time()
    primary = [aligner._map(r.seq) for r in reads]
    clock.add("ReadAligner._map (mappy + Hit records + CIGAR events)", time.process_time() - t)
    t = time.process_time()
    hits = [aligner.rescue(r.seq, h) for r, h in zip(reads, primary, strict=True)]
    clock.add("rescue of uncovered stretches", time.process_time() - t)

    t = time.process_time()
    first = classify_read(
        reads[0].name, reads[0].seq, hits[0], ctx.labels, construct, "ss", ctx.params, vec.map_hits
    )
    from cgtqc.seq.aav.itr import call_itr

    call_itr(construct.itr1.variants[0][1][::-1], construct.itr1)  # loads the numba kernel when not yet
    clock.add("import numba + ITR kernel load (numba cache) + first read", time.process_time() - t)
    del first
    t = time.process_time()
    calls = [
        classify_read(r.name, r.seq, h, ctx.labels, construct, "ss", ctx.params, vec.map_hits)
        for r, h in zip(reads, hits, strict=True)
    ]
    clock.add("classify_read (paths, ITR calls, flip/flop)", time.process_time() - t)
    t = time.process_time()
    for c, r, h in zip(calls, reads, hits, strict=True):
        c.laava_type, c.laava_subtype, c.laava_label = laava_call(
            [x for x in h if x.kind in "PS"], len(r.seq), ctx.labels, ctx.laava
        )
    clock.add("LAAVA type mapping", time.process_time() - t)
    stats = SampleStats(construct.length)
    t = time.process_time()
    for c in calls:
        stats.add(c)
    clock.add("per-sample statistics (SampleStats.add)", time.process_time() - t)

    t = time.process_time()
    tables = [per_read_table(calls[i : i + 2000]) for i in range(0, len(calls), 2000)]
    clock.add(
        "per-read Arrow tables (per_read_table)",
        time.process_time() - t,
        f"(pandas imported: {'pandas' in sys.modules})",
    )
    t = time.process_time()
    w = AavWriter(tmp / "tables", write_bam=False)
    for tb in tables:
        w.write(tb, None)
    w.close()
    clock.add("per_read.tsv.gz + per_read.parquet", time.process_time() - t)
    t = time.process_time()
    w = AavWriter(tmp / "all")
    for i, tb in enumerate(tables):
        w.write(tb, reads[i * 2000 : (i + 1) * 2000])
    w.close()
    both = time.process_time() - t
    clock.add("tagged.bam (tables + BAM minus tables alone)", both - clock.rows[-1][1], "(BGZF level 1)")
    t = time.process_time()
    wilson_interval(1, 2)
    clock.add(
        "import scipy.special (the Wilson intervals)",
        time.process_time() - t,
        f"(statsmodels imported: {'statsmodels' in sys.modules})",
    )
    t = time.process_time()
    vt = given_vector_type("ss")
    result = sample_result("reads", fastq, stats, vt, construct, refs.files, ctx.params, ap_)
    write_summary(result, tmp)
    clock.add("summary.json (statistics, checks, provenance hashes)", time.process_time() - t)

    total = sum(
        s
        for name, s, _ in clock.rows
        if "comparison" not in name and "reused" not in name and "alone (new" not in name
    )
    print(f"\nsum of the stages cgtqc runs: {total:.1f} CPU s")
    print("\n| stage | CPU s | note |\n|---|---:|---|")
    for name, sec, note in clock.rows:
        print(f"| {name} | {sec:.2f} | {note} |")


if __name__ == "__main__":
    main()
