"""Where the CPU time of ``cgtqc editing quantify`` goes, stage by stage, in one process.

Runs the command's work in this process, one stage after the other and on one thread (reading and
aligning are not overlapped here, so each stage is timed alone), and prints the CPU seconds
(``time.process_time``: all threads of the process) of: the interpreter start, the imports (numpy, the
``cgtqc`` command and its typer/rich front, the editing engine with its C kernel), building the
references, reading and counting the FASTQ, the alignment kernel and the Python around it, counting the
calls and building the allele rows, and writing each output. Usage:
``python benchmarks/editing_breakdown.py READS.fastq [--amplicon SEQ --guide SEQ]`` (defaults: the FANCF
amplicon and guide of ``editing_bench.py``).
"""

from __future__ import annotations

import subprocess
import sys
import time

T0 = time.process_time()
STAGES: list[tuple[str, float]] = []


LAST = [T0]


def lap(name: str | None) -> None:
    """Record the CPU time since the last lap under ``name`` (None: only restart the clock)."""
    now = time.process_time()
    if name is not None:
        STAGES.append((name, now - LAST[0]))
    LAST[0] = now


def main() -> None:
    import argparse
    import tempfile
    from pathlib import Path

    ap = argparse.ArgumentParser()
    ap.add_argument("reads")
    ap.add_argument("--amplicon")
    ap.add_argument("--guide")
    args = ap.parse_args()
    lap("argument parsing")
    import os

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the command asks (cgtqc.cli.editing)
    import numpy  # noqa: F401

    lap("import numpy")
    import cgtqc.cli  # noqa: F401

    lap("import cgtqc.cli (typer, rich, command groups)")
    from cgtqc.seq.editing import calls, engine, output, pipeline
    from cgtqc.seq.editing.allele_table import allele_table_bytes, around_cut_text, sorted_alleles
    from cgtqc.seq.fastq import count_sequences

    lap("import the editing engine (C kernel)")
    sys.path.insert(0, str(Path(__file__).parent))
    from editing_bench import AMPLICON, GUIDE

    amp, guide = args.amplicon or AMPLICON, args.guide or GUIDE
    q = engine.setup_quantification([amp], guides=[guide])
    ctx = engine._context(q)
    lap("references and aligners built")
    sc = count_sequences(args.reads)
    lap(f"read, check, hash and count the FASTQ ({sc.reads:,} reads, {len(sc.counts):,} distinct)")
    seqs = list(sc.counts)
    alns: list = []
    t = time.process_time()
    kernel = 0.0
    run_kernel = calls.align_and_call

    def timed(*a, **k):  # the compiled call alone
        nonlocal kernel
        t0 = time.process_time()
        out = run_kernel(*a, **k)
        kernel += time.process_time() - t0
        return out

    calls.align_and_call = timed
    variants = []
    for i in range(0, len(seqs), pipeline.PROGRESS_SLICE):
        variants += ctx.classified(seqs[i : i + pipeline.PROGRESS_SLICE], 1, False, alns)
    calls.align_and_call = run_kernel
    total = time.process_time() - t
    STAGES.append(("alignment kernel (compiled: strand seeds, alignment, window calls)", kernel))
    STAGES.append(("Python around the kernel (batches, acceptance, kept alignments)", total - kernel))
    lap(None)
    part = pipeline.SequenceVariants(args.reads, sc.counts, variants, sc.reads, sc.max_len, sc.sha256, alns)
    result = engine.combine(q, [part], args.reads, alleles=True)
    lap("combine: merge reverse complements, count calls, allele rows, provenance")
    import gc

    gc.disable()  # as write_crispresso_files does
    rows = sorted_alleles(result.alleles or [])
    text = allele_table_bytes(rows, result.reads_aligned_all_amplicons)
    lap("allele table: sort and text")
    import zipfile

    work = Path(tempfile.mkdtemp(prefix="editing_breakdown_"))
    with zipfile.ZipFile(work / "a.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=output.ZIP_LEVEL) as zf:
        zf.writestr("Alleles_frequency_table.txt", text)
    lap("allele table: zip (in a second thread in the command)")
    cut = result.allele_cuts["Reference"][0][0]
    around_cut_text(rows, result.reads_aligned_all_amplicons, cut, 20, 20)
    lap("around-sgRNA allele table")
    result.alleles = None
    output.write_crispresso_files(result, work)
    lap("quantification, mapping statistics, summary.json")
    gc.enable()
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    interp = time.perf_counter() - t
    print(f"{'stage':82} {'CPU s':>6}")
    print(f"{'interpreter start (python -c pass, wall)':82} {interp:6.3f}")
    for name, sec in STAGES:
        print(f"{name:82} {sec:6.3f}")
    print(f"{'total (this process)':82} {sum(s for _, s in STAGES):6.3f}")


if __name__ == "__main__":
    main()
