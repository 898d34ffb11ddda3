"""Benchmark: integration-site calling + sonicLength abundance vs minimap2 aligning the same reads alone.

Simulates once (``cgtqc.seq.integration.sim``, seed 7, 10 Mb genome, 400 clones) into ``--dir`` (kept for
reruns), then times, each in its own child process (wall, CPU, peak RSS from ``wait4``):

1. ``call_sites`` (trim, align with mappy, pair, collapse, EM, diversity, flags) with ``--threads``;
2. ``minimap2 -x sr -t THREADS genome.fa R1 R2 > /dev/null``: the raw read pairs aligned alone
   (index build included, as the caller's is).

Run: ``.venv/bin/python benchmarks/integration_call.py --pairs 1000000 --threads 2``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def _child(cmd: list[str], stdout=subprocess.DEVNULL) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed: {err[-2000:]}")
    return {
        "wall_s": wall,
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "max_rss_mb": ru.ru_maxrss / 1024,
        "stderr": err,
    }


CALL = """
import json, resource, sys, time
from cgtqc.seq.integration.calling import CallSettings, call_sites, write_outputs
from cgtqc.seq.integration.trim import Adaptors
f = json.load(open(sys.argv[1]))["files"]
t = time.perf_counter()
res = call_sites(f["r1"], f["r2"], f["genome"], CallSettings(Adaptors(f["ltr"], f["linker"])),
                 vector=f["vector"], genes=f["genes"], threads=int(sys.argv[2]))
write_outputs(res, sys.argv[3])
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"inner_s": time.perf_counter() - t, "sites": res.summary["sites"],
                  "multihit_groups": res.summary["multihit_groups"], "read_pairs": res.summary["read_pairs"],
                  "worker_max_rss_mb": kids}), file=sys.stderr)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/cgtqc-intcall-bench"))
    args = ap.parse_args()
    raw = args.dir / f"sim-{args.pairs}"
    truth = raw / "truth.json"
    if (
        not truth.is_file()
    ):  # in a child, so this process stays small (its size would count in the children's)
        code = (
            "import sys; from cgtqc.seq.integration.sim import SimConfig, simulate; "
            "simulate(sys.argv[1], 7, SimConfig(n_pairs=int(sys.argv[2]), n_clones=400))"
        )
        sim = _child([sys.executable, "-c", code, str(raw), str(args.pairs)])
        print(f"simulated {args.pairs:,} pairs in {sim['wall_s']:.1f} s", flush=True)
    files = json.loads(truth.read_text())["files"]
    out = args.dir / "out"
    shutil.rmtree(out, ignore_errors=True)
    call = _child([sys.executable, "-c", CALL, str(truth), str(args.threads), str(out)])
    inner = json.loads(call.pop("stderr").strip().splitlines()[-1])
    mm2 = _child(["minimap2", "-x", "sr", "-t", str(args.threads), files["genome"], files["r1"], files["r2"]])
    mm2.pop("stderr")
    rows = {"cgtqc integration call": call, "minimap2 -x sr alone": mm2}
    print(f"{args.pairs:,} read pairs, {args.threads} threads; load {os.getloadavg()[0]:.2f}")
    print("| run | wall s | CPU s | pairs/s (wall) | max RSS MB |\n|---|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {args.pairs / r['wall_s']:,.0f} | "
            f"{r['max_rss_mb']:.0f} |"
        )
    print(
        f"ratio to minimap2 alone: {call['wall_s'] / mm2['wall_s']:.2f}x wall, "
        f"{call['cpu_s'] / mm2['cpu_s']:.2f}x CPU; worker peak RSS {inner['worker_max_rss_mb']:.0f} MB; "
        f"{inner['sites']} sites, {inner['multihit_groups']} multihit groups"
    )


if __name__ == "__main__":
    main()
