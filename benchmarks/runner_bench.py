"""The lot runner on a sequencing-heavy lot: wall time on 1 and 2 workers, scaling, overhead over the engines.

A lot folder with one AAV test (simulated HiFi reads) and one editing test (simulated amplicon reads) is run
  1. by the engines called directly, one after the other in this process (``ENGINE.execute``: the floor),
  2. by ``run_lot`` on a local pool of 1 worker process (chunked engines split into chunks),
  3. by ``run_lot`` on a local pool of 2 worker processes,
  4. optionally by ``run_lot`` on a Dask LocalCluster of 2 workers (``--dask``),
each into a fresh output folder and database (no cache). It prints wall times, reads/s, the scaling
efficiency T1 / (2 T2) and the runner's overhead (T1 - T_direct) / T_direct, and checks that every run's
results.json is byte-identical.

    .venv/bin/python benchmarks/runner_bench.py --aav-reads 200000 --editing-reads 200000 [--dask]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import yaml

from cgtqc.engines import registry
from cgtqc.lots.isbt128 import check_character
from cgtqc.runner.lot_run import run_lot
from cgtqc.runner.scaffold import scaffold
from cgtqc.runner.schedulers import LocalScheduler
from cgtqc.store.db import migrate, session_scope
from cgtqc.store.users import create_user

PASSWORD = "bench-password"
DIN = "W000026000001" + check_character("W000026000001")
KEEP = {"aav": "aav-full_genome_pct", "editing": "editing-edited_alleles_pct"}


def make_lot(root: Path, aav_reads: int, editing_reads: int) -> Path:
    folder = root / "lot"
    aav_lot, ed_lot = root / "aav-src", root / "ed-src"
    scaffold("aav", aav_lot, lot="BENCH-AAV", simulate=True, seed=11,
             truth={KEEP["aav"]: {"n_reads": aav_reads}})
    scaffold("crispr_hsc", ed_lot, lot="BENCH-ED", simulate=True, seed=11, din=DIN, coi="COI-1",
             truth={KEEP["editing"]: {"n_reads": editing_reads}})
    docs = [yaml.safe_load((f / "lot.yaml").read_text()) for f in (aav_lot, ed_lot)]
    tests = []
    for src, doc, test_id in ((aav_lot, docs[0], KEEP["aav"]), (ed_lot, docs[1], KEEP["editing"])):
        t = next(x for x in doc["tests"] if x["id"] == test_id)
        t["files"] = {k: [str((src / p).resolve()) for p in v] for k, v in t["files"].items()}
        tests.append(t)
    folder.mkdir()
    doc = {"lot": "BENCH-AAV", "product": "aav", "site": "bench", "tests": [tests[0]]}
    (folder / "lot.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    ed_folder = root / "lot-ed"
    ed_folder.mkdir()
    ed_doc = {"lot": "BENCH-ED", "product": "crispr_hsc", "site": "bench", "din": DIN, "coi": "COI-1",
              "tests": [tests[1]]}
    (ed_folder / "lot.yaml").write_text(yaml.safe_dump(ed_doc, sort_keys=False))
    return root


def fresh_db(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'cgtqc.db'}"
    migrate(url)
    with session_scope(url) as s:
        create_user(s, "bench", "Bench Analyst", "analyst", PASSWORD, by="system")
    return url


def direct(root: Path) -> float:
    """The floor: each engine's own run on its files, one after the other, no runner."""
    from cgtqc.runner.manifest import load_manifest

    t0 = time.perf_counter()
    for lot in ("lot", "lot-ed"):
        m = load_manifest(root / lot)
        for t in m.tests:
            registry()[t.engine].execute(t.inputs, t.params, root / "direct" / t.id)
    return time.perf_counter() - t0


def runner(root: Path, name: str, scheduler) -> tuple[float, list[str]]:
    t0 = time.perf_counter()
    texts = []
    for lot in ("lot", "lot-ed"):
        out = root / name / lot
        run = run_lot(root / lot, db_url=fresh_db(root / name / f"db-{lot}"), user="bench", password=PASSWORD,
                      out=out, scheduler=scheduler)
        assert not run.failed, [t.error for t in run.failed]
        texts.append((out / "results.json").read_text())
    return time.perf_counter() - t0, texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--aav-reads", type=int, default=200_000)
    ap.add_argument("--editing-reads", type=int, default=200_000)
    ap.add_argument("--dask", action="store_true", help="also run on a Dask LocalCluster of 2 workers")
    ap.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one)")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="cgtqc-runner-bench-"))
    t0 = time.perf_counter()
    make_lot(root, args.aav_reads, args.editing_reads)
    print(f"simulated {args.aav_reads:,} AAV + {args.editing_reads:,} editing reads in "
          f"{time.perf_counter() - t0:.1f} s ({root})")
    reads = args.aav_reads + args.editing_reads
    floor = direct(root)
    print(f"engines directly (1 process):   {floor:8.1f} s  {reads / floor:9,.0f} reads/s")
    with LocalScheduler(workers=1) as one:
        t1, ref = runner(root, "w1", one)
    print(f"cgtqc run, local 1 worker:      {t1:8.1f} s  {reads / t1:9,.0f} reads/s  "
          f"overhead {100 * (t1 - floor) / floor:+.1f}% over the engines")
    with LocalScheduler(workers=2) as two:
        t2, texts = runner(root, "w2", two)
    assert texts == ref, "2 workers gave different results.json"
    print(f"cgtqc run, local 2 workers:     {t2:8.1f} s  {reads / t2:9,.0f} reads/s  "
          f"speed-up {t1 / t2:.2f}x, scaling efficiency {100 * t1 / (2 * t2):.0f}%")
    figures = {"reads": reads, "direct_s": floor, "w1_s": t1, "w2_s": t2}
    if args.dask:
        from cgtqc.runner.schedulers import DaskScheduler

        with DaskScheduler(workers=2) as dask:
            td, texts = runner(root, "dask2", dask)
        assert texts == ref, "Dask gave different results.json"
        print(f"cgtqc run, Dask LocalCluster 2: {td:8.1f} s  {reads / td:9,.0f} reads/s")
        figures["dask2_s"] = td
    print("results.json identical across runs: yes")
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}))
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
