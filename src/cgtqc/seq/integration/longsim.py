"""Simulated long reads across integrated proviruses, with known truth (fixed seed).

Built by construction, sharing no code with the parser (``longread``): a random genome (two chromosomes
of 120 kb), a provirus ``LTR + internal + LTR`` (250 + 3,500 + 250 bp), and molecules in which the provirus
sits at a host base with a target-site duplication (the host bases ``x .. x+tsd`` on both sides), in either
genomic orientation; each molecule is read from either end. Planted: four integrants with three full-length
reads each, one with a 4 bp TSD, two with internal deletions (800 and 300 bp; two reads each), a solo LTR,
a read truncated 1,000 bp into the provirus (5' junction only), a vector-only read and a host-only read.
Sequencing errors: substitutions at ``error`` and single-base indels at a fifth of it.

The truth of each read is the host base after the 3' LTR and before the 5' LTR, as ``posid`` with the
strand of the host read out of that LTR.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cgtqc.results import atomic_write

_COMP = str.maketrans("ACGT", "TGCA")


def _rc(s: str) -> str:
    return s.translate(_COMP)[::-1]


def _dna(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), n))


@dataclass
class LongReadTruth:
    """What one simulated read is."""

    klass: str
    site3: str | None
    site5: str | None
    tsd: int | None
    deletion: tuple[int, int] | None = None


class LongReadWorld:
    """Genome, provirus and the reads with their truth."""

    def __init__(self, seed: int = 11, error: float = 0.005):
        self.rng = rng = np.random.default_rng(seed)
        self.chroms = {"chrA": _dna(rng, 120_000), "chrB": _dna(rng, 120_000)}
        self.ltr = _dna(rng, 250)
        self.provirus = self.ltr + _dna(rng, 3500) + self.ltr
        self.error = error
        self.reads: list[tuple[str, str]] = []
        self.truth: dict[str, LongReadTruth] = {}

    def molecule(
        self, chrom: str, x: int, genomic: str, insert: str, tsd: int = 5, left: int = 900, right: int = 900
    ) -> tuple[str, str, str]:
        """The + strand molecule with ``insert`` (provirus-oriented) integrated at 0-based ``x``, and the
        posids of its 3' and 5' junctions."""
        g = self.chroms[chrom]
        left_host, right_host = g[x - left : x + tsd], g[x : x + right]
        if genomic == "+":
            # after the 3' LTR comes g[x] (1-based x+1), read along +; before the 5' LTR g[x+tsd-1]
            return left_host + insert + right_host, f"{chrom}+{x + 1}", f"{chrom}-{x + tsd}"
        # reversed: the 3' LTR end faces g[x+tsd-1], read towards lower coordinates
        return left_host + _rc(insert) + right_host, f"{chrom}-{x + tsd}", f"{chrom}+{x + 1}"

    def _noisy(self, s: str) -> str:
        out = []
        rate = self.error
        for ch in s:
            u = self.rng.random()
            if u < rate:
                out.append("ACGT"[("ACGT".index(ch) + int(self.rng.integers(1, 4))) % 4])
            elif u < rate * 1.1:
                continue
            elif u < rate * 1.2:
                out.extend([ch, "ACGT"[int(self.rng.integers(0, 4))]])
            else:
                out.append(ch)
        return "".join(out)

    def add(self, name: str, seq: str, truth: LongReadTruth, flip: bool) -> None:
        self.reads.append((name, self._noisy(_rc(seq) if flip else seq)))
        self.truth[name] = truth

    def build(self) -> LongReadWorld:
        sites = [("chrA", 10_000, "+"), ("chrA", 40_000, "-"), ("chrB", 20_000, "+"), ("chrB", 70_000, "-")]
        for k, (chrom, x, ori) in enumerate(sites):
            mol, s3, s5 = self.molecule(chrom, x, ori, self.provirus)
            for r in range(3):
                self.add(f"full{k}_{r}", mol, LongReadTruth("full_length", s3, s5, 5), flip=bool(r % 2))
        mol, s3, s5 = self.molecule("chrA", 90_000, "+", self.provirus, tsd=4)
        self.add("tsd4", mol, LongReadTruth("full_length", s3, s5, 4), flip=True)
        for k, (chrom, x, ori, a, b) in enumerate(
            [("chrB", 50_000, "+", 1000, 1800), ("chrA", 60_000, "-", 2500, 2800)]
        ):
            mol, s3, s5 = self.molecule(chrom, x, ori, self.provirus[:a] + self.provirus[b:])
            for r in range(2):
                self.add(f"del{k}_{r}", mol, LongReadTruth("deleted", s3, s5, 5, (a, b)), flip=bool(r))
        mol, s3, s5 = self.molecule("chrB", 100_000, "-", self.ltr)
        self.add("solo", mol, LongReadTruth("solo_ltr", s3, s5, 5), flip=False)
        mol, s3, s5 = self.molecule("chrA", 10_000, "+", self.provirus)
        self.add("trunc", mol[: 900 + 5 + 1000], LongReadTruth("one_junction", None, s5, None), flip=True)
        self.add("vec", self.provirus[500:3000], LongReadTruth("vector_only", None, None, None), flip=False)
        self.add(
            "host", self.chroms["chrB"][5000:7000], LongReadTruth("no_vector", None, None, None), flip=True
        )
        return self

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """``genome.fa``, ``provirus.fa``, ``reads.fastq``, ``ltr.txt`` and ``truth.json``."""
        out = Path(out_dir)
        files = {
            "genome": atomic_write(
                out / "genome.fa", "".join(f">{c}\n{s}\n" for c, s in self.chroms.items())
            ),
            "vector": atomic_write(out / "provirus.fa", f">provirus\n{self.provirus}\n"),
            "reads": atomic_write(
                out / "reads.fastq", "".join(f"@{n}\n{s}\n+\n{'5' * len(s)}\n" for n, s in self.reads)
            ),
            "ltr": atomic_write(out / "ltr.txt", self.ltr + "\n"),
        }
        truth = {n: asdict(t) for n, t in self.truth.items()}
        files["truth"] = atomic_write(out / "truth.json", json.dumps(truth, indent=1))
        return files


def simulate_long_reads(out_dir: str | Path, seed: int = 11, error: float = 0.005) -> dict[str, Path]:
    """Write the simulated long-read data set (see the module docstring) and return its files."""
    if not 0 <= error < 0.3:
        from cgtqc.errors import InputError

        raise InputError(f"error rate {error} must be in [0, 0.3)")
    return LongReadWorld(seed, error).build().write(out_dir)
