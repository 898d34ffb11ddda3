"""Benchmark: cgtqc editing quantification vs CRISPResso2 on the same simulated reads.

200,000 reads of the 223-bp FANCF amplicon, 0.3% per-base substitution errors, ~25% indel reads
(40 indel alleles around the cut), fixed seed. Runs, each in its own process:

* cgtqc engine, 1 process and 2 processes (``threads``), through the Python API;
* ``cgtqc editing quantify`` (the command line, including its start-up);
* CRISPResso2 (``--crispresso PATH`` or ``$CRISPRESSO``), one process, plots and report off.

Prints reads/s (wall and CPU), peak memory (max RSS) and whether the two CRISPResso2 tables are
byte-identical. Usage: ``python benchmarks/editing_bench.py [--reads N] [--crispresso PATH]``.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AMPLICON = (
    "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCG"
    "CTTTTCCGAGCTTCTGGCGGTCTCAAGCACTACCTACGTCAGCACCTGGGACCCCGCCACCGTGCGCCGGGCCTTGCAGTGGGCGCGCTACCTGCGCCACAT"
    "CCATCGGCGCTTTGGTCGG"
)
GUIDE = "GGAATCCCTTCTGCAGCACC"
FILES = ["CRISPResso_quantification_of_editing_frequency.txt", "CRISPResso_mapping_statistics.txt"]

SIMULATE = """
import sys
from cgtqc.seq.editing.sim import simulate_reads
amp, guide, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
cut = amp.index(guide) + len(guide) - 4
s = simulate_reads(amp, n, cut_site=cut, indel_fraction=0.25, n_indel_alleles=40, error_rate=0.003, seed=7)
s.write_fastq(out)
print(len(set(s.sequences)), 100 * (1 - s.fraction("wt")))
"""

ENGINE_DRIVER = """
import sys
from cgtqc.seq.editing.engine import quantify, write_crispresso_files
r = quantify(sys.argv[1], [sys.argv[2]], guides=[sys.argv[3]], threads=int(sys.argv[4]))
write_crispresso_files(r, sys.argv[5])
"""


def run(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Run a command in a child process; wall time, CPU time (user+sys) and max RSS (MB)."""
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            os.execvpe(cmd[0], cmd, env or os.environ.copy())
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"command failed ({status}): {' '.join(cmd[:3])} ...")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=200_000)
    ap.add_argument("--crispresso", default=os.environ.get("CRISPRESSO", shutil.which("CRISPResso") or ""))
    ap.add_argument("--keep", help="keep the work folder here")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="editing_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    fq = work / "reads.fastq"
    # simulate in a child process: this process stays small, so the children's peak RSS (which
    # counts the forked copy of this process before exec) is theirs alone
    py = sys.executable
    sim = subprocess.run(
        [py, "-c", SIMULATE, AMPLICON, GUIDE, str(args.reads), str(fq)],
        check=True,
        capture_output=True,
        text=True,
    )
    uniq_s, indel_s = sim.stdout.split()
    uniq, indel_pct = int(uniq_s), float(indel_s)
    print(
        f"{args.reads} reads, {len(AMPLICON)}-bp amplicon, 0.3% errors, "
        f"{indel_pct:.1f}% indel reads, {uniq} unique sequences; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    rows = []
    for threads in (1, 2):
        out = work / f"cgtqc_{threads}"
        r = run([py, "-c", ENGINE_DRIVER, str(fq), AMPLICON, GUIDE, str(threads), str(out)])
        rows.append((f"cgtqc engine, {threads} process{'es' if threads > 1 else ''}", r, out))
    cli = Path(py).with_name("cgtqc")
    if cli.exists():
        out = work / "cgtqc_cli"
        r = run(
            [str(cli), "editing", "quantify", "-r1", str(fq), "-a", AMPLICON, "-g", GUIDE, "-o", str(out)]
        )
        rows.append(("cgtqc editing quantify (CLI, 1 process)", r, out))
    if args.crispresso:
        r = run(
            [
                args.crispresso,
                "-r1",
                str(fq),
                "-a",
                AMPLICON,
                "-g",
                GUIDE,
                "-o",
                str(work / "c2"),
                "-n",
                "b",
                "--suppress_report",
                "--suppress_plots",
                "-p",
                "1",
            ]
        )
        rows.append(("CRISPResso2 2.3.4, 1 process, plots off", r, work / "c2" / "CRISPResso_on_b"))
    print(
        f"{'run':45} {'wall s':>7} {'cpu s':>7} {'reads/s (wall)':>15} {'reads/s (cpu)':>14} "
        f"{'max RSS MB':>10}"
    )
    for name, r, _ in rows:
        print(
            f"{name:45} {r['wall']:7.2f} {r['cpu']:7.2f} {args.reads / r['wall']:15,.0f} "
            f"{args.reads / r['cpu']:14,.0f} {r['rss_mb']:10.0f}"
        )
    ref = next((x for x in rows if x[0].startswith("CRISPResso2")), None)
    if ref is None:
        print("CRISPResso2 not run (give --crispresso PATH)")
        return
    for name, _, out in rows[:-1]:
        same = all(filecmp.cmp(out / f, ref[2] / f, shallow=False) for f in FILES)
        print(f"identical CRISPResso2 tables (quantification + mapping statistics), {name}: {same}")
    for name, r, _ in rows[:-1]:
        print(
            f"speed-up vs CRISPResso2, {name}: {ref[1]['wall'] / r['wall']:.1f}x wall, "
            f"{ref[1]['cpu'] / r['cpu']:.1f}x cpu"
        )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
