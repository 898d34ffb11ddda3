"""Benchmark: ``cgtqc editing quantify`` vs CRISPResso2 at the command line, on the same simulated reads.

Reads of the 223-bp FANCF amplicon (0.3% per-base substitution errors, ~25% indel reads from 40 indel
alleles around the cut, fixed seed). Each round runs, each in its own process, as a user runs them:

* ``cgtqc editing quantify`` with its defaults (threads = available cores);
* ``cgtqc editing quantify -p 1`` (one thread);
* CRISPResso2 (``--crispresso PATH`` or ``$CRISPRESSO``), ``-p 1``, plots and report off.

The rounds are interleaved (``--rounds``, default 3) so that the tools see the same machine state; the
medians of wall time, CPU time (user + sys) and peak memory (max RSS, from ``wait4``) are printed with the
1-minute load average before each run, and every output table is compared byte for byte with
CRISPResso2's: the quantification and mapping statistics, the allele table inside its zip and the
around-sgRNA allele table. Usage: ``python benchmarks/editing_bench.py [--reads N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

AMPLICON = (
    "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCG"
    "CTTTTCCGAGCTTCTGGCGGTCTCAAGCACTACCTACGTCAGCACCTGGGACCCCGCCACCGTGCGCCGGGCCTTGCAGTGGGCGCGCTACCTGCGCCACAT"
    "CCATCGGCGCTTTGGTCGG"
)
GUIDE = "GGAATCCCTTCTGCAGCACC"
TABLES = [
    "CRISPResso_quantification_of_editing_frequency.txt",
    "CRISPResso_mapping_statistics.txt",
    f"Alleles_frequency_table_around_sgRNA_{GUIDE}.txt",
]
ZIPPED = ("Alleles_frequency_table.zip", "Alleles_frequency_table.txt")

SIMULATE = """
import sys
from cgtqc.seq.editing.sim import simulate_reads
amp, guide, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
cut = amp.index(guide) + len(guide) - 4
s = simulate_reads(amp, n, cut_site=cut, indel_fraction=0.25, n_indel_alleles=40, error_rate=0.003, seed=7)
s.write_fastq(out)
print(len(set(s.sequences)), 100 * (1 - s.fraction("wt")))
"""


def run(cmd: list[str]) -> dict[str, float]:
    """Run a command in a child process; wall time, CPU time (user+sys), max RSS (MB) and the load before."""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"command failed ({status}): {' '.join(cmd[:3])} ...")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024, "load": load}


def tables(folder: Path) -> dict[str, bytes]:
    """The compared tables of one output folder (the allele table read out of its zip)."""
    out = {name: (folder / name).read_bytes() for name in TABLES}
    with zipfile.ZipFile(folder / ZIPPED[0]) as zf:
        out[ZIPPED[1]] = zf.read(ZIPPED[1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--crispresso", default=os.environ.get("CRISPRESSO", shutil.which("CRISPResso") or ""))
    ap.add_argument("--keep", help="keep the work folder here")
    args = ap.parse_args()
    if not args.crispresso:
        sys.exit("CRISPResso2 not found: give --crispresso PATH or set $CRISPRESSO")
    work = Path(args.keep or tempfile.mkdtemp(prefix="editing_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    fq = work / "reads.fastq"
    py = sys.executable
    # simulated in a child process: this one stays small, so the children's max RSS (which counts the
    # forked copy of this process before exec) is theirs alone
    sim = subprocess.run([py, "-c", SIMULATE, AMPLICON, GUIDE, str(args.reads), str(fq)], check=True,
                         capture_output=True, text=True)
    uniq_s, indel_s = sim.stdout.split()
    print(f"{args.reads} reads, {len(AMPLICON)}-bp amplicon, 0.3% errors, {float(indel_s):.1f}% indel reads, "
          f"{int(uniq_s)} distinct sequences; {os.cpu_count()} cores")
    cli = str(Path(py).with_name("cgtqc"))
    base = ["-r1", str(fq), "-a", AMPLICON, "-g", GUIDE]
    ours = [cli, "editing", "quantify", *base]
    theirs = [args.crispresso, *base, "-n", "reads", "--suppress_report", "--suppress_plots", "-p", "1"]
    tools = {
        "cgtqc editing quantify (defaults: all cores)": lambda o: [*ours, "-o", o],
        "cgtqc editing quantify -p 1": lambda o: [*ours, "-o", o, "-p", "1"],
        "CRISPResso2 2.3.4 -p 1, plots and report off": lambda o: [*theirs, "-o", o],
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in tools}
    same: dict[str, bool] = {}
    for k in range(args.rounds):
        for i, (name, cmd) in enumerate(tools.items()):
            out = work / f"run{k}_{i}"
            shutil.rmtree(out, ignore_errors=True)
            r = run(cmd(str(out)))
            runs[name].append(r)
            print(f"  round {k + 1}: {name}: {r['wall']:.2f} s wall, {r['cpu']:.2f} s CPU, "
                  f"{r['rss_mb']:.0f} MB, load {r['load']:.1f}", flush=True)
        ref = tables(work / f"run{k}_2" / "CRISPResso_on_reads")
        for i, name in enumerate(list(tools)[:2]):
            same[name] = same.get(name, True) and tables(work / f"run{k}_{i}" / "CRISPResso_on_reads") == ref
    ref_name = list(tools)[2]
    ref_wall = statistics.median(r["wall"] for r in runs[ref_name])
    ref_cpu = statistics.median(r["cpu"] for r in runs[ref_name])
    print(f"\nmedians of {args.rounds} interleaved rounds")
    print(f"{'run':46} {'wall s':>7} {'CPU s':>7} {'max RSS MB':>10} {'wall x':>7} {'CPU x':>6}  load")
    for name, rs in runs.items():
        wall = statistics.median(r["wall"] for r in rs)
        cpu = statistics.median(r["cpu"] for r in rs)
        rss = statistics.median(r["rss_mb"] for r in rs)
        loads = "/".join(f"{r['load']:.1f}" for r in rs)
        ratios = f"{ref_wall / wall:7.1f} {ref_cpu / cpu:6.1f}"
        print(f"{name:46} {wall:7.2f} {cpu:7.2f} {rss:10.0f} {ratios}  {loads}")
    for name, ok in same.items():
        print(f"tables byte-identical to CRISPResso2's ({', '.join([*TABLES, ZIPPED[1]])}), {name}: {ok}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
