"""Per-read agreement between LAAVA run side by side and cgtqc on the same aligned BAM.

Compares LAAVA's per-read assigned_type/assigned_subtype (summarize_alignment.py) with cgtqc's
laava_type/laava_subtype, LAAVA's flip/flop calls (get_flipflop_config.py) with cgtqc's ITR
configurations, and tabulates LAAVA's types against cgtqc's classes.

    .venv/bin/python benchmarks/aav_laava_agreement.py --laava-prefix /tmp/aav_bench/laava/s \
        --cgtqc /tmp/aav_bench/bam/per_read.tsv.gz
"""

from __future__ import annotations

import argparse
import csv
import gzip
from collections import Counter
from pathlib import Path


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with gzip.open(path, "rt") as fh:
        return {r.get("read_id") or r.get("name"): r for r in csv.DictReader(fh, delimiter="\t")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--laava-prefix", type=Path, required=True)
    ap.add_argument("--cgtqc", type=Path, required=True)
    args = ap.parse_args()
    laava = _rows(Path(f"{args.laava_prefix}.per_read.tsv.gz"))
    ours = _rows(args.cgtqc)
    common = [k for k in laava if k in ours]
    agree = Counter()
    cross = Counter()
    for k in common:
        a, b = laava[k], ours[k]
        same = (a["assigned_type"], a["assigned_subtype"]) == (b["laava_type"], b["laava_subtype"])
        agree[same] += 1
        cross[(f"{a['assigned_type']}/{a['assigned_subtype']}", b["class"])] += 1
        if not same and agree[False] <= 5:
            print(
                "differs:",
                k,
                a["assigned_type"],
                a["assigned_subtype"],
                "|",
                b["laava_type"],
                b["laava_subtype"],
            )
    print(
        f"LAAVA type/subtype reproduced on {agree[True]}/{len(common)} reads "
        f"({100 * agree[True] / max(1, len(common)):.3f}%)"
    )
    ff_path = Path(f"{args.laava_prefix}.flipflop.tsv.gz")
    if ff_path.exists():
        with gzip.open(ff_path, "rt") as fh:
            ff = {r["name"]: r for r in csv.DictReader(fh, delimiter="\t")}
        both = Counter()
        for k, r in ff.items():
            if k in ours and r["subtype"] == "full":
                mine = (ours[k]["itr_left_config"], ours[k]["itr_right_config"])
                both[(r["leftITR"], r["rightITR"]) == mine] += 1
                both["laava_unclassified"] += "unclassified" in (r["leftITR"], r["rightITR"])
        n = both[True] + both[False]
        print(
            f"flip/flop (both ITRs) equal to LAAVA on {both[True]}/{n} full reads; LAAVA left "
            f"{both['laava_unclassified']} of them (partly) unclassified"
        )
    print("\n| LAAVA type/subtype | cgtqc class | reads |\n|---|---|---|")
    for (t, c), n in cross.most_common(25):
        print(f"| {t} | {c} | {n} |")


if __name__ == "__main__":
    main()
