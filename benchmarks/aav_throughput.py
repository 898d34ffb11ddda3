"""Throughput of `cgtqc aav classify` on simulated HiFi reads, beside minimap2 alone and LAAVA.

Stages (each a subprocess whose whole process tree is polled for resident memory):
  1. minimap2 alone: `minimap2 -t T --eqx -a --secondary=no refs reads > /dev/null` (the physical floor)
  2. cgtqc end to end: FASTQ in, alignment (mappy) + classification + all outputs, T worker threads
     (with --rounds N, 1 and 2 are repeated interleaved N times and each round's ratio is printed, with
     the cores other processes of the machine kept busy meanwhile; --quiet-wait S lets each timed run
     wait up to S seconds for an idle machine)
  3. cgtqc classification alone: the minimap2 BAM in (no alignment except rescue of uncovered stretches)
  4. LAAVA (optional, --laava-python with pysam/parasail/biopython and --laava-src with its src/*.py):
     summarize_alignment.py --cpus T, then get_flipflop_config.py, on the same minimap2 BAM

    .venv/bin/python benchmarks/aav_throughput.py --reads 200000 --threads 2 \
        --laava-python /tmp/laava-venv/bin/python --laava-src /tmp/laava_src
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from cgtqc.seq.aav.sim import simulate_aav


def _tree_rss_kb(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next((int(ln.split()[1]) for ln in fh if ln.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(x) for x in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


CPU: dict[str, float] = {}


def _busy_seconds() -> float:
    """CPU seconds the whole machine has run (all processes, all cores) since boot, from /proc/stat."""
    with open("/proc/stat") as fh:
        f = [int(x) for x in fh.readline().split()[1:]]
    return (sum(f[:8]) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def wait_quiet(limit: float) -> None:
    """Wait (at most ``limit`` seconds) until other processes keep less than 0.15 of a core busy over two
    2-second windows in a row: rounds then start on an idle machine when there is one."""
    end, calm = time.monotonic() + limit, 0
    while calm < 2 and time.monotonic() < end:
        b0, t0 = _busy_seconds(), time.monotonic()
        time.sleep(2)
        calm = calm + 1 if (_busy_seconds() - b0) / (time.monotonic() - t0) < 0.15 else 0


QUIET = [0.0]  # seconds each timed run may wait for an idle machine (--quiet-wait)


def run(cmd: list[str] | str, shell: bool = False, stdout=None) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of the whole process tree; CPU seconds in CPU['last'],
    and in CPU['others'] the cores other processes of the machine kept busy meanwhile (on average)."""
    if QUIET[0]:
        wait_quiet(QUIET[0])
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    b0 = _busy_seconds()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, shell=shell, stdout=stdout or subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0]

    def poll() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            time.sleep(0.2)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    _, err = proc.communicate()
    th.join()
    if proc.returncode:
        raise SystemExit(f"failed ({proc.returncode}): {cmd}\n{err.decode()[-2000:]}")
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU["last"] = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    CPU["others"] = max(0.0, _busy_seconds() - b0 - CPU["last"]) / wall
    return wall, peak[0] / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reads", type=int, default=200_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/aav_bench"))
    ap.add_argument("--laava-python", type=Path)
    ap.add_argument("--laava-src", type=Path)
    ap.add_argument("--laava-reads", type=int, default=0, help="LAAVA on the first N reads only (0 = all)")
    ap.add_argument(
        "--rounds", type=int, default=1, help="minimap2 alone and cgtqc end to end interleaved, N times"
    )
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="before each timed run, wait up to this many seconds for the machine to be idle",
    )
    args = ap.parse_args()
    QUIET[0] = args.quiet_wait
    w, t = args.work, str(args.threads)
    w.mkdir(parents=True, exist_ok=True)
    cgtqc = str(Path(sys.executable).with_name("cgtqc"))
    t0 = time.perf_counter()
    sim = simulate_aav(
        w / "sim",
        n_reads=args.reads,
        vector_type="ss",
        error_model="hifi",
        seed=99,
        mix="lot",
        compress=False,
    )
    n, mb = args.reads, sim.reads.stat().st_size / 1e6
    print(f"simulated {n} HiFi reads ({mb:.0f} MB FASTQ) in {time.perf_counter() - t0:.0f} s", flush=True)
    refs = w / "refs.fa"
    refs.write_text(sim.vector.read_text() + sim.packaging.read_text() + sim.host.read_text())
    os.sync()  # the kernel's write-back of the fresh files (~30 s later) fell into the first timed runs
    rows = []

    def show(name: str, sec: float, peak: float, count: int = n, cpu: float | None = None) -> None:
        cpu = CPU["last"] if cpu is None else cpu
        rows.append((name, sec, count / sec, cpu, count / cpu, peak))
        print(
            f"{name}: {sec:.1f} s wall, {count / sec:.0f} reads/s, {cpu:.1f} CPU s "
            f"({count / cpu:.0f} reads per CPU s), peak RSS {peak:.0f} MB",
            flush=True,
        )

    minimap2 = ["minimap2", "-t", t, "--eqx", "-a", "--secondary=no", str(refs), str(sim.reads)]
    sec, peak = run(minimap2)
    show(f"minimap2 alone (-t {t})", sec, peak)
    floor, floor_cpu, floor_others = sec, CPU["last"], CPU["others"]
    bam = w / "aligned.bam"
    run(
        f"minimap2 -t {t} --eqx -a --secondary=no {refs} {sim.reads} | samtools view -b -o {bam} -",
        shell=True,
    )
    common = [
        "--vector",
        str(sim.vector),
        "--annotation",
        str(sim.annotation),
        "--packaging",
        str(sim.packaging),
        "--host",
        str(sim.host),
        "--vector-type",
        "ss",
        "--threads",
        t,
        "--no-report",
    ]
    e2e_cmd = [cgtqc, "aav", "classify", "--reads", str(sim.reads), "--out", str(w / "e2e"), *common]
    sec, peak = run(e2e_cmd)
    show(f"cgtqc end to end (FASTQ, {t} threads)", sec, peak)
    e2e, e2e_cpu = sec, CPU["last"]
    ratios = [(e2e / floor, e2e_cpu / floor_cpu, os.getloadavg()[0], floor_others, CPU["others"])]
    for _ in range(args.rounds - 1):
        m_sec, _ = run(minimap2)
        m_cpu, m_others = CPU["last"], CPU["others"]
        c_sec, _ = run(e2e_cmd)
        ratios.append((c_sec / m_sec, CPU["last"] / m_cpu, os.getloadavg()[0], m_others, CPU["others"]))
        print(
            f"round {len(ratios)}: minimap2 {m_sec:.1f} s / {m_cpu:.1f} CPU s, cgtqc {c_sec:.1f} s / "
            f"{CPU['last']:.1f} CPU s, load {ratios[-1][2]:.1f}, other processes {m_others:.2f} / "
            f"{CPU['others']:.2f} cores",
            flush=True,
        )
    sec, peak = run([cgtqc, "aav", "classify", "--reads", str(bam), "--out", str(w / "bam"), *common])
    show(f"cgtqc classification alone (minimap2 BAM, {t} threads)", sec, peak)
    for i, (rw, rc, load, m_others, c_others) in enumerate(ratios, 1):
        print(
            f"ratio end to end / minimap2 alone, round {i}: {rw:.2f} (wall), {rc:.2f} (CPU), "
            f"1-min load average {load:.1f}, other processes kept {m_others:.2f} / {c_others:.2f} cores "
            "busy during minimap2 / cgtqc",
            flush=True,
        )
    if args.laava_python and args.laava_src:
        lw = w / "laava"
        shutil.rmtree(lw, ignore_errors=True)
        lw.mkdir()
        lbam, count = bam, n
        if args.laava_reads:
            lbam, count = lw / "subset.bam", args.laava_reads
            names = f"{lw}/names.txt"
            run(f"samtools view {bam} | cut -f1 | uniq | head -n {count} > {names}", shell=True)
            run(f"samtools view -b -N {names} -o {lbam} {bam}", shell=True)
        (lw / "refnames.tsv").write_text(
            "Name\tLabel\nsimAAV\tvector\npRepCap\trepcap\npHelper\thelper\nLambda\tlambda\nchrS\thost\n"
        )
        src = args.laava_src
        s1, p1 = run(
            [
                str(args.laava_python),
                str(src / "summarize_alignment.py"),
                str(lbam),
                str(sim.annotation),
                str(lw / "refnames.tsv"),
                "ITR1",
                "ITR2",
                "-o",
                str(lw / "s"),
                "-i",
                "s",
                "--vector-type",
                "ss",
                "--cpus",
                t,
            ]
        )
        show(f"LAAVA summarize_alignment (--cpus {t})", s1, p1, count)
        c1 = CPU["last"]
        s2, p2 = run(
            [
                str(args.laava_python),
                str(src / "get_flipflop_config.py"),
                str(lw / "s.tagged.bam"),
                str(lw / "s.per_read.tsv.gz"),
                "ss",
                "left",
                "-o",
                str(lw / "s"),
                "--flipflop-fasta",
                str(sim.flipflop),
            ]
        )
        show("LAAVA get_flipflop_config (1 process)", s2, p2, count)
        c2 = CPU["last"]
        show("LAAVA total after alignment", s1 + s2, max(p1, p2), count, c1 + c2)
        print(
            f"classification alone vs LAAVA after alignment: {rows[2][2] / rows[-1][2]:.1f}x (wall), "
            f"{rows[2][4] / rows[-1][4]:.1f}x (per CPU second)",
            flush=True,
        )
    print("\n| stage | wall s | reads/s | CPU s | reads per CPU s | peak RSS MB |\n|---|---|---|---|---|---|")
    for name, sec, rate, cpu, crate, peak in rows:
        print(f"| {name} | {sec:.1f} | {rate:.0f} | {cpu:.1f} | {crate:.0f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
