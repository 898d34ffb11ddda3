"""Simulated off-target study with known truth: a genome with planted sites, pooled edited and mock reads.

The genome is random sequence with the on-target site and off-target sites planted at known places
(given mismatches, DNA or RNA bulges, either strand). Pooled amplicon reads are drawn per site at
``depth`` reads: in the edited sample a read carries an indel at the site's cut with the site's true
editing rate (deletions 1–15 bp, insertions 1–3 bp); an optional background indel rate goes into
both samples; both samples get substitution errors at
``error_rate`` per base, and reads come from either strand. One ``numpy`` generator, seeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cgtqc.seq.editing.offtarget.verify import SiteAmplicon, revcomp

_B = "ACGT"


@dataclass(frozen=True)
class PlantedSite:
    """A site written into the genome: its protospacer+PAM as planted, and where."""

    label: str
    chrom: str
    location: int
    strand: str
    sequence: str
    mismatches: int
    bulge_type: str
    bulge_size: int


def _mutate(rng: np.random.Generator, seq: str, positions: list[int]) -> str:
    s = list(seq)
    for p in positions:
        s[p] = _B[(_B.index(s[p]) + int(rng.integers(1, 4))) % 4]
    return "".join(s)


def plant_genome(out_dir: str | Path, guide: str, *, length: int = 200_000, seed: int = 1,
                 chrom: str = "chrSim") -> tuple[Path, list[PlantedSite]]:
    """Random genome with the on-target and 7 off-target sites planted (3′ NGG PAM)."""
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    designs = [
        ("on-target", guide, 0, "X", 0),
        ("OT1 1mm", _mutate(rng, guide, [2]), 1, "X", 0),
        ("OT2 2mm", _mutate(rng, guide, [4, 13]), 2, "X", 0),
        ("OT3 3mm", _mutate(rng, guide, [0, 7, 11]), 3, "X", 0),
        ("OT4 4mm", _mutate(rng, guide, [1, 5, 9, 15]), 4, "X", 0),
        ("OT5 DNA bulge", guide[:10] + "A" + guide[10:], 0, "DNA", 1),
        ("OT6 RNA bulge", guide[:8] + guide[9:], 0, "RNA", 1),
        ("OT7 2mm", _mutate(rng, guide, [6, 17]), 2, "X", 0),
    ]
    slots = np.sort(rng.choice(np.arange(2_000, length - 2_000, 5_000), size=len(designs), replace=False))
    genome = list("".join(_B[i] for i in rng.integers(0, 4, length)))
    planted = []
    for (label, proto, mm, kind, b), pos in zip(designs, slots, strict=True):
        site = proto + _B[int(rng.integers(0, 4))] + "GG"
        strand = "+" if rng.random() < 0.5 else "-"
        placed = site if strand == "+" else revcomp(site)
        genome[pos:pos + len(placed)] = list(placed)
        planted.append(PlantedSite(label, chrom, int(pos), strand, site, mm, kind, b))
    fa = out_dir / "genome.fa"
    seq = "".join(genome)
    fa.write_text(f">{chrom} simulated\n" + "\n".join(seq[i:i + 80] for i in range(0, len(seq), 80)) + "\n")
    return fa, planted


def simulate_pooled_reads(
    out_dir: str | Path, amplicons: list[SiteAmplicon], rates: dict[str, float], *, depth: int = 2000,
    error_rate: float = 0.002, background: dict[str, float] | None = None, seed: int = 2,
) -> tuple[Path, Path]:
    """Write ``edited.fastq`` and ``mock.fastq``: ``depth`` reads per amplicon, edits at ``rates[site]``.

    ``background[site]`` adds the same indel rate to both samples (a PCR artefact or a polymorphism
    that the mock comparison must not call).
    """
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    paths = []
    for sample in ("edited", "mock"):
        recs = []
        for a in amplicons:
            rate = rates.get(a.site, 0.0) if sample == "edited" else 0.0
            rate += (background or {}).get(a.site, 0.0)
            for i in range(depth):
                s = a.amplicon
                if rng.random() < rate:
                    if rng.random() < 0.75:
                        k = int(rng.integers(1, 16))
                        st = a.cut - int(rng.integers(0, k + 1))
                        s = s[:st] + s[st + k:]
                    else:
                        k = int(rng.integers(1, 4))
                        s = s[:a.cut] + "".join(_B[j] for j in rng.integers(0, 4, k)) + s[a.cut:]
                arr = np.array(list(s))
                err = rng.random(len(arr)) < error_rate
                for p in np.nonzero(err)[0]:
                    arr[p] = _B[(_B.index(arr[p]) + int(rng.integers(1, 4))) % 4]
                s = "".join(arr)
                if rng.random() < 0.5:
                    s = revcomp(s)
                recs.append(f"@{sample}_{a.site}_{i}\n{s}\n+\n{'I' * len(s)}\n")
        order = rng.permutation(len(recs))
        p = out_dir / f"{sample}.fastq"
        p.write_text("".join(recs[i] for i in order))
        paths.append(p)
    return paths[0], paths[1]


DEMO_RATES = {"on-target": 0.6, "OT1 1mm": 0.04, "OT5 DNA bulge": 0.012}


def true_rates(planted: list[PlantedSite], amplicons: list[SiteAmplicon],
               rates_by_label: dict[str, float] | None = None) -> dict[str, float]:
    """Editing rate per amplicon site from the planted sites' labels (0 for every other site)."""
    by_key = {f"{p.chrom}:{p.location}:{p.strand}": p.label for p in planted}
    table = DEMO_RATES if rates_by_label is None else rates_by_label
    return {a.site: table.get(by_key.get(a.site, ""), 0.0) for a in amplicons}
