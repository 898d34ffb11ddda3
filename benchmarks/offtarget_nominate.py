"""Off-target nomination throughput on a simulated 10-Mb genome, and Cas-OFFinder side by side.

    .venv/bin/python benchmarks/offtarget_nominate.py [--mb 10] [--cas-offinder PATH]

Prints Mb/s per setting. With a Cas-OFFinder 3 binary (``--cas-offinder`` or $CAS_OFFINDER; it needs an
OpenCL runtime such as pocl) it runs the same search on the CPU device and compares the outputs row by
row as (type, position, strand, mismatches, bulge size), after dropping rows Cas-OFFinder repeats.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from cgtqc.seq.editing.offtarget.engine import nominate

GUIDE = "GGCCGACCTGTCGCTGACGC"
SETTINGS = [("NGG", 4, 0, 0), ("NRG", 4, 1, 1), ("NRG", 3, 2, 2)]


def make_genome(d: Path, mb: float, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    n = int(mb * 1e6)
    seq = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, n)].tobytes().decode()
    gdir = d / "genome"
    gdir.mkdir()
    fa = gdir / "sim.fa"
    with open(fa, "w") as fh:
        fh.write(">sim\n")
        for i in range(0, n, 80):
            fh.write(seq[i:i + 80] + "\n")
    return fa


def rows_ours(res) -> Counter:
    return Counter((s.bulge_type, s.location, s.strand, s.mismatches, s.bulge_size) for s in res.sites)


def run_casoffinder(binary: str, fa: Path, pam: str, mm: int, dna: int, rna: int) -> tuple[float, Counter]:
    d = fa.parent.parent
    inp = d / "in.txt"
    out = d / "out.txt"
    inp.write_text(f"{fa.parent}\n{'N' * len(GUIDE)}{pam} {dna} {rna}\n{GUIDE}{'N' * len(pam)} {mm}\n")
    t = time.perf_counter()
    subprocess.run([binary, str(inp), "C", str(out)], check=True, capture_output=True)
    dt = time.perf_counter() - t
    rows = set()
    for line in out.read_text().splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        rows.add((f[1], f[2], f[3], int(f[5]), f[6], int(f[7]), int(f[8])))
    return dt, Counter((r[0], r[3], r[4], r[5], r[6]) for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=10.0)
    ap.add_argument("--cas-offinder", default=os.environ.get("CAS_OFFINDER"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fa = make_genome(Path(tmp), args.mb)
        for pam, mm, dna, rna in SETTINGS:
            t = time.perf_counter()
            res = nominate(fa, GUIDE, pam, max_mismatches=mm, max_dna_bulge=dna, max_rna_bulge=rna)
            dt = time.perf_counter() - t
            line = (f"{args.mb:g} Mb, {pam}, <= {mm} mismatches, DNA bulge {dna}, RNA bulge {rna}: "
                    f"{len(res.sites)} alignments in {dt:.2f} s = {args.mb / dt:.1f} Mb/s (both strands)")
            if args.cas_offinder:
                ct, theirs = run_casoffinder(args.cas_offinder, fa, pam, mm, dna, rna)
                ours = rows_ours(res)
                same = ours == theirs
                line += (f"; Cas-OFFinder 3 (CPU, OpenCL/pocl) {ct:.2f} s, speed ratio {ct / dt:.2f}x, "
                         f"identical rows: {same}")
                if not same:
                    line += f" (only ours {sum((ours - theirs).values())}, only theirs "
                    line += f"{sum((theirs - ours).values())})"
            print(line, flush=True)


if __name__ == "__main__":
    main()
