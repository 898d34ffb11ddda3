"""Recall per AAV read class on simulated truth sets (ss/sc constructs, HiFi-like/nanopore-like errors).

Prints, as Markdown: recall per class for each set, the confusion table (truth rows, called columns,
only non-zero off-diagonal cells listed) and what LAAVA's rules (type/subtype) call each true class.

    .venv/bin/python benchmarks/aav_recall.py --per-class 200 --threads 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from cgtqc.seq.aav.construct import load_construct
from cgtqc.seq.aav.engine import classify_reads
from cgtqc.seq.aav.sim import SC_CLASSES, SS_CLASSES, read_truth, simulate_aav
from cgtqc.seq.align import ReferenceSet


def run_set(
    vector_type: str,
    model: str,
    per_class: int,
    seed: int,
    threads: int,
    work: Path,
    references: dict | None = None,
) -> dict:
    classes = SS_CLASSES if vector_type == "ss" else SC_CLASSES
    sim = simulate_aav(
        references=references,
        out_dir=work / f"{vector_type}_{model}_{bool(references)}",
        n_reads=per_class * len(classes),
        vector_type=vector_type,
        error_model=model,
        seed=seed,
    )
    construct = load_construct(sim.vector, sim.annotation, sim.flipflop)
    refs = ReferenceSet.from_files(sim.vector, sim.packaging, sim.host)
    truth = read_truth(sim.truth)
    conf: Counter = Counter()
    laava: dict[str, Counter] = defaultdict(Counter)
    ff: Counter = Counter()

    def sink(res, _groups):
        for c in res.calls:
            t = truth[c.read_id]
            conf[(t["class"], c.cls)] += 1
            laava[t["class"]][f"{c.laava_type}/{c.laava_subtype}"] += 1
            if t["left_config"] and c.cls == t["class"]:
                ff[(c.left_config, c.right_config) == (t["left_config"], t["right_config"])] += 1

    t0 = time.perf_counter()
    classify_reads(sim.reads, construct, refs, vector_type=vector_type, threads=threads, sink=sink)
    return {
        "classes": classes,
        "conf": conf,
        "laava": laava,
        "ff": ff,
        "seconds": time.perf_counter() - t0,
        "n": per_class * len(classes),
    }


def report(name: str, r: dict, minimum: float) -> list[str]:
    conf, classes = r["conf"], r["classes"]
    lines = [
        f"### {name}: {r['n']} reads ({r['seconds']:.0f} s)",
        "",
        "| true class | n | recall % | called otherwise | LAAVA type/subtype (top 2) |",
        "|---|---|---|---|---|",
    ]
    worst = 1.0
    for cls in classes:
        n = sum(v for (t, _), v in conf.items() if t == cls)
        rec = conf[(cls, cls)] / n if n else 0.0
        worst = min(worst, rec)
        other = (
            ", ".join(
                f"{c} {v}"
                for (t, c), v in sorted(conf.items(), key=lambda kv: -kv[1])
                if t == cls and c != cls
            )
            or "-"
        )
        top = ", ".join(f"{k} {v}" for k, v in r["laava"][cls].most_common(2))
        lines.append(f"| {cls} | {n} | {100 * rec:.1f} | {other} | {top} |")
    ok = sum(r["ff"].values())
    lines += [
        "",
        f"Worst-class recall {100 * worst:.1f}% (target >= {100 * minimum:.0f}%): "
        f"{'PASS' if worst >= minimum else 'FAIL'}. Flip/flop of both terminal ITRs correct on "
        f"{r['ff'][True]}/{ok} full-genome reads with known configuration.",
        "",
    ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--per-class", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument(
        "--real", type=Path, help="LAAVA test data folder: also simulate from its real constructs"
    )
    args = ap.parse_args()
    out = []
    sources: list[tuple[str, dict | None]] = [("synthetic", None)]
    if args.real:
        sources.append(("real", args.real))
    with tempfile.TemporaryDirectory() as tmp:
        for source, folder in sources:
            for vt in ("ss", "sc"):
                refs = None
                if folder is not None:
                    refs = {
                        "vector": folder / "samples" / f"{vt}.construct.fasta",
                        "annotation": folder / "samples" / f"{vt}.annotation.bed",
                        "packaging": folder / "fasta" / "packaging.fa",
                        "host": folder / "fasta" / "hg38.chr19trunc-chrM.fa",
                    }
                for model, minimum in (("hifi", 0.98), ("nanopore", 0.90)):
                    r = run_set(vt, model, args.per_class, args.seed, args.threads, Path(tmp), refs)
                    title = f"{source} {vt}AAV construct, {model}-like errors"
                    out += report(title, r, minimum)
                    print("\n".join(out[-(len(r["classes"]) + 7) :]), flush=True)


if __name__ == "__main__":
    main()
