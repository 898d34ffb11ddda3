"""Per-sample aggregates of read calls, mergeable chunk by chunk (so chunks can run anywhere).

Counts per class and per LAAVA type/subtype, flip/flop configurations, bases per source, coverage along
the vector plasmid, truncation/fold/deletion breakpoint histogram and length histograms per class.
Percentages carry Wilson 95% intervals and name their denominator.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from cgtqc.seq.aav.classes import CLASSES, CONTAMINANT_CLASSES
from cgtqc.stats import wilson_interval

LENGTH_BIN = 100
LENGTH_MAX = 20_000
BREAKPOINT_BIN = 50


def pct_entry(k: int, n: int, denominator: str) -> dict:
    lo, hi = wilson_interval(k, n)
    return {
        "count": k,
        "denominator": n,
        "denominator_is": denominator,
        "pct": 100.0 * k / n if n else None,
        "ci95_low": 100.0 * lo,
        "ci95_high": 100.0 * hi,
    }


@dataclass
class SampleStats:
    """Accumulated statistics of one sample; ``merge`` adds another chunk's."""

    construct_length: int
    reads_total: int = 0
    bases_total: int = 0
    classes: Counter = field(default_factory=Counter)
    laava: Counter = field(default_factory=Counter)
    flipflop: Counter = field(default_factory=Counter)
    partners: Counter = field(default_factory=Counter)
    bases_by_label: Counter = field(default_factory=Counter)
    itr_intact: int = 0
    itr_judged: int = 0
    fold_genome_reads: int = 0
    genome_reads: int = 0
    coverage_diff: np.ndarray | None = None
    breakpoints: Counter = field(default_factory=Counter)
    lengths: dict[str, Counter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.coverage_diff is None:
            self.coverage_diff = np.zeros(self.construct_length + 1, dtype=np.int64)

    def add(self, call) -> None:  # call: aav_path.ReadCall
        self.reads_total += 1
        self.bases_total += call.length
        self.classes[call.cls] += 1
        self.laava[(call.laava_type, call.laava_subtype)] += 1
        if call.itr_calls and call.cls in (
            "full",
            "sc_full",
            "sc_monomer",
            "full_itr_defect",
            "internal_deletion",
            "dimer",
        ):
            self.flipflop[f"{call.left_config or 'none'}-{call.right_config or 'none'}"] += 1
        if call.partner:
            self.partners[call.partner] += 1
        for lab, n in call.bases_by_label.items():
            self.bases_by_label[lab] += n
        if call.itr_intact is not None:
            self.itr_judged += 1
            self.itr_intact += int(call.itr_intact)
        if call.n_genome_arms >= 1:
            self.genome_reads += 1
            self.fold_genome_reads += int(call.fold_at_itr)
        for rs, re in call.vector_spans:
            self.coverage_diff[rs] += 1
            self.coverage_diff[re] -= 1
        for kind, pos in call.breakpoints:
            self.breakpoints[(kind, int(pos) // BREAKPOINT_BIN * BREAKPOINT_BIN)] += 1
        self.lengths.setdefault(call.cls, Counter())[
            min(call.length, LENGTH_MAX) // LENGTH_BIN * LENGTH_BIN
        ] += 1

    def merge(self, other: SampleStats) -> None:
        for name in (
            "reads_total",
            "bases_total",
            "itr_intact",
            "itr_judged",
            "fold_genome_reads",
            "genome_reads",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("classes", "laava", "flipflop", "partners", "bases_by_label", "breakpoints"):
            getattr(self, name).update(getattr(other, name))
        self.coverage_diff += other.coverage_diff
        for cls, c in other.lengths.items():
            self.lengths.setdefault(cls, Counter()).update(c)

    def breakpoint_histograms(self) -> dict[str, dict[int, int]]:
        """Per kind (truncation, fold, deletion): 50-bp bin start on the plasmid → reads."""
        out: dict[str, dict[int, int]] = {}
        for (kind, b), n in sorted(self.breakpoints.items()):
            out.setdefault(kind, {})[int(b)] = int(n)
        return out

    def coverage(self) -> np.ndarray:
        return np.cumsum(self.coverage_diff)[:-1]

    def length_summary(self) -> dict[str, dict]:
        """Per class: n, median and 5th/95th percentiles from the 100-bp histogram (bin starts)."""
        out = {}
        for cls, hist in sorted(self.lengths.items()):
            bins = np.array(sorted(hist))
            counts = np.array([hist[b] for b in bins])
            cum = np.cumsum(counts) / counts.sum()

            def q(f: float, bins=bins, cum=cum) -> int:
                return int(bins[np.searchsorted(cum, f)]) + LENGTH_BIN // 2

            out[cls] = {
                "n": int(counts.sum()),
                "median_bp": q(0.5),
                "p05_bp": q(0.05),
                "p95_bp": q(0.95),
                "histogram_bin_bp": LENGTH_BIN,
                "histogram": {int(b): int(c) for b, c in zip(bins, counts, strict=True)},
            }
        return out

    def class_table(self) -> dict[str, dict]:
        n = self.reads_total
        return {c: pct_entry(self.classes.get(c, 0), n, "all reads") for c in CLASSES}

    def contaminants(self) -> dict[str, dict]:
        """Per source: fraction of reads (class) and of read bases (aligned to that source)."""
        out = {}
        for c in CONTAMINANT_CLASSES:
            k = self.classes.get(c, 0)
            label = "vector_backbone" if c == "backbone" else c
            bases = self.bases_by_label.get(c, 0) if c != "backbone" else None
            out[label] = {
                "reads": pct_entry(k, self.reads_total, "all reads"),
                "bases_pct": (100.0 * bases / self.bases_total)
                if bases is not None and self.bases_total
                else None,
            }
        out["unaligned_bases_pct"] = (
            100.0 * self.bases_by_label.get("unaligned", 0) / self.bases_total if self.bases_total else None
        )
        return out
