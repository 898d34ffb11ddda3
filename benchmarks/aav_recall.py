"""Recall per AAV read class on simulated truth sets (ss/sc constructs, HiFi-like/nanopore-like errors).

Prints, as Markdown: recall per class for each set, the confusion table (truth rows, called columns,
only non-zero off-diagonal cells listed) and what LAAVA's rules (type/subtype) call each true class.

    .venv/bin/python benchmarks/aav_recall.py --per-class 200 --threads 2

``--flipflop N`` adds (``--only-flipflop``: runs only) the flip/flop sets of issue 16: N reads per class of
full genomes (ss ``full``; sc ``sc_full`` and unfolded ``sc_monomer``) and genomes with one planted ITR
defect (10-40 bp deletion or 15-100 bp end truncation, ``full_itr_defect``), every ITR copy drawn flip or
flop independently; configurations derived from the construct (no --flipflop file). Targets: full-genome
recall >= 99% (HiFi-like) / >= 95% (nanopore-like), ITR defects found >= 98%, flip/flop of both terminal
ITRs equal to the truth >= 98% of full-genome reads.
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


def run_flipflop(
    vector_type: str, model: str, per_class: int, seed: int, threads: int, work: Path, references: dict | None
) -> dict:
    ss = ("full", "full_itr_defect")
    classes = ss if vector_type == "ss" else ("sc_full", "sc_monomer", "full_itr_defect")
    sim = simulate_aav(
        references=references,
        out_dir=work / f"ff_{vector_type}_{model}_{bool(references)}",
        n_reads=per_class * len(classes),
        vector_type=vector_type,
        error_model=model,
        seed=seed,
        classes=classes,
    )
    construct = load_construct(sim.vector, sim.annotation)
    refs = ReferenceSet.from_files(sim.vector, sim.packaging, sim.host)
    truth = read_truth(sim.truth)
    hit: Counter = Counter()
    tot: Counter = Counter()
    ff: Counter = Counter()

    def sink(res, _groups):
        for c in res.calls:
            t = truth[c.read_id]
            tot[t["class"]] += 1
            hit[t["class"]] += c.cls == t["class"]
            if t["left_config"]:
                ff[(c.left_config, c.right_config) == (t["left_config"], t["right_config"])] += 1

    classify_reads(sim.reads, construct, refs, vector_type=vector_type, threads=threads, sink=sink)
    return {"classes": classes, "hit": hit, "tot": tot, "ff": ff}


def flipflop_row(name: str, model: str, r: dict) -> str:
    full = r["classes"][0]
    cells = []
    for cls in r["classes"]:
        cells.append(f"{r['hit'][cls]}/{r['tot'][cls]} ({100 * r['hit'][cls] / max(1, r['tot'][cls]):.2f}%)")
    if len(cells) == 2:
        cells.insert(1, "-")
    minimum = 0.99 if model == "hifi" else 0.95
    ok = (
        r["hit"][full] >= minimum * r["tot"][full]
        and r["hit"]["full_itr_defect"] >= 0.98 * r["tot"]["full_itr_defect"]
        and r["ff"][True] >= 0.98 * sum(r["ff"].values())
    )
    n_ff = sum(r["ff"].values())
    ffc = f"{r['ff'][True]}/{n_ff} ({100 * r['ff'][True] / max(1, n_ff):.2f}%)"
    return f"| {name} | {cells[0]} | {cells[1]} | {cells[2]} | {ffc} | {'PASS' if ok else 'FAIL'} |"


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


def _refs(folder: Path | None, vt: str) -> dict | None:
    if folder is None:
        return None
    return {
        "vector": folder / "samples" / f"{vt}.construct.fasta",
        "annotation": folder / "samples" / f"{vt}.annotation.bed",
        "packaging": folder / "fasta" / "packaging.fa",
        "host": folder / "fasta" / "hg38.chr19trunc-chrM.fa",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--per-class", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument(
        "--real", type=Path, help="LAAVA test data folder: also simulate from its real constructs"
    )
    ap.add_argument("--flipflop", type=int, default=0, help="reads per class of the flip/flop sets")
    ap.add_argument("--only-flipflop", action="store_true")
    args = ap.parse_args()
    out = []
    sources: list[tuple[str, dict | None]] = [("synthetic", None)]
    if args.real:
        sources.append(("real", args.real))
    with tempfile.TemporaryDirectory() as tmp:
        if args.flipflop:
            print(
                "| set | full genome (ss full / sc sc_full) | sc_monomer | planted ITR defect | "
                "flip/flop = truth | targets |\n|---|---|---|---|---|---|",
                flush=True,
            )
        for source, folder in sources if args.flipflop else []:
            for vt in ("ss", "sc"):
                for model in ("hifi", "nanopore"):
                    refs = _refs(folder, vt)
                    r = run_flipflop(vt, model, args.flipflop, args.seed, args.threads, Path(tmp), refs)
                    print(flipflop_row(f"{source} {vt}AAV, {model}-like", model, r), flush=True)
        for source, folder in [] if args.only_flipflop else sources:
            for vt in ("ss", "sc"):
                refs = _refs(folder, vt)
                for model, minimum in (("hifi", 0.98), ("nanopore", 0.90)):
                    r = run_set(vt, model, args.per_class, args.seed, args.threads, Path(tmp), refs)
                    title = f"{source} {vt}AAV construct, {model}-like errors"
                    out += report(title, r, minimum)
                    print("\n".join(out[-(len(r["classes"]) + 7) :]), flush=True)


if __name__ == "__main__":
    main()
