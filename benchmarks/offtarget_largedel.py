"""Large-deletion calling throughput on simulated long-read amplicons (7 kb, ONT-like errors).

    .venv/bin/python benchmarks/offtarget_largedel.py [--reads 4000] [--error-rate 0.03]

Prints reads/s with one and two threads, recall and size accuracy against the simulator's truth, and the
physical floor: minimap2 (mappy) mapping alone on the same reads.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import mappy

from cgtqc.seq.editing.largedel.engine import call_large_deletions, read_long_reads
from cgtqc.seq.editing.largedel.sim import simulate_long_read_amplicons


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=4000)
    ap.add_argument("--error-rate", type=float, default=0.03)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sim = simulate_long_read_amplicons(Path(tmp), n_reads=args.reads, error_rate=args.error_rate, seed=3)
        reads = list(read_long_reads(sim.reads_fastq))
        mb = sum(len(s) for _, s in reads) / 1e6
        aligner = mappy.Aligner(str(sim.reference_fasta), preset="map-ont")
        t = time.perf_counter()
        for _, s in reads:
            list(aligner.map(s))
        floor = time.perf_counter() - t
        print(f"{args.reads} reads, {mb:.1f} Mb, error rate {args.error_rate}")
        print(f"minimap2 mapping alone (1 thread): {args.reads / floor:.0f} reads/s")
        for threads in (1, 2):
            t = time.perf_counter()
            res = call_large_deletions(sim.reads_fastq, sim.reference_fasta, threads=threads)
            dt = time.perf_counter() - t
            print(f"cgtqc editing largedel call, {threads} thread(s): {args.reads / dt:.0f} reads/s "
                  f"({mb / dt:.1f} Mb/s; {floor / dt:.2f}x of mapping-alone speed at 1 thread)")
        calls = {c.read: c for c in res.calls}
        truth = [t for t in sim.reads if t.outcome == "large_deletion"]
        def size_error(t) -> int | None:
            d = calls[t.name].deletion
            return abs(d.size - t.deletion_size) if d else None

        ok = [t for t in truth if size_error(t) is not None and size_error(t) <= 5]
        errs = sorted(size_error(t) for t in ok)
        fp = sum(1 for t in sim.reads if t.outcome in ("unmodified", "small_indel")
                 and calls[t.name].deletion)
        print(f"recall (size within 5 bp): {len(ok)}/{len(truth)} = {100 * len(ok) / len(truth):.1f}%; "
              f"median |size error| {errs[len(errs) // 2]} bp, max {errs[-1]} bp; false calls {fp}; "
              f"large-deletion % {res.large_deletion.pct:.2f} "
              f"(truth {100 * sim.large_deletion_fraction:.2f})")


if __name__ == "__main__":
    main()
