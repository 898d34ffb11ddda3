"""Simulated LM-PCR integration-site sequencing with known truth (fixed seed).

The simulator follows the wet-lab protocol, not the caller: a synthetic host genome (with segmental
duplications and an exact repeat family) and annotated genes (GTF, with the adverse-event genes among
them); clones, each a provirus at one host base on either strand, with a number of cells; sonication of
every cell's DNA at random points (fragment lengths log-normal, 30 .. 1200 bp); capture of some fragments;
ligation of a linker carrying a random UMI to the sheared end; PCR (copies per fragment log-normal, so read
counts are a poor measure of clone size); paired reading of each amplicon ``LTR + host + linker'`` from both
ends (R2 from the LTR primer, R1 from the linker primer), running on into the sequencing adaptor when the
amplicon is short. Errors: substitutions rising along each read, and oligo-synthesis errors in the
primers (substitutions and single-base deletions, so a few reads lose their LTR or linker).

Hard cases planted on purpose: a dominant clone (about 25% of cells); a site near the LMO2 TSS; two sites
12 bp apart on one strand; two sites 3 bp apart on opposite strands; clones inside a segmental duplication
(2 loci) and inside the repeat (3 loci), whose pairs are multihits; junction jitter (reads whose junction
is 1-2 bp off); and the artefacts, each a known fraction of the pairs: PCR chimeras (R1 from another
fragment), mispriming (primer on host DNA without the LTR end), primer dimers, vector-internal reads.

``simulate_followup`` writes one patient's follow-up: the same genome and clones at several timepoints, the
clone sizes changing as :func:`followup_cells` states (drift, one planted rising clone, a shrinking
dominant clone); ``simulate`` and each timepoint share one path (``_world``, then ``_write_sample``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from cgtqc.results import atomic_write

# HIV-1 U5 end (the LTR primer plus the last bases up to the terminal CA) and a linker with an 8-nt UMI
DEFAULT_LTR = "GACCCTTTTAGTCAGTGTGGAAAATCTCTAGCA"
DEFAULT_LINKER = "GTAATACGACTCACTATAGGGCNNNNNNNNCTCCGCTTAAGGGAC"
ILLUMINA_ADAPTOR = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCACATCTCGTATGCCGTCTTCTGCTTG"
ADVERSE_GENES = ("LMO2", "MECOM", "CCND2", "HMGA2", "IKZF1", "PRDM16", "SETBP1")
PRIMER_GAP = 10  # LTR bases between the primer's 3' end and the terminal CA
_COMP = str.maketrans("ACGTN", "TGCAN")


def _rc(seq: str) -> str:
    return seq.translate(_COMP)[::-1]


@dataclass(frozen=True)
class SimConfig:
    """Sizes and rates of one simulated sample."""

    n_pairs: int = 30_000
    n_clones: int = 150
    chrom_lengths: tuple[int, ...] = (4_000_000, 3_000_000, 3_000_000)
    read_length: int = 150
    ltr: str = DEFAULT_LTR
    linker: str = DEFAULT_LINKER
    dominant_fraction: float = 0.25
    capture: float = 0.3  # fraction of a clone's sheared fragments that reach the library
    fragment_median: float = 220.0
    fragment_sigma: float = 0.55
    pcr_sigma: float = 1.0  # log-normal spread of PCR copies per fragment
    jitter: float = 0.03  # reads whose junction is 1-2 bp off
    error_start: float = 0.001  # substitution rate at the first base of a read
    error_end: float = 0.012  # ... and at the last
    oligo_substitution: float = 0.3  # mean substitutions in a read's primer part (Poisson)
    oligo_deletion: float = 0.02  # reads with a 1-bp deletion in the primer part
    chimera: float = 0.02
    mispriming: float = 0.02
    primer_dimer: float = 0.01
    vector_internal: float = 0.03
    n_genes: int = 60


@dataclass
class SimTruth:
    """What was planted: sites (unique and multihit), per-category pair counts, the files written."""

    sites: list[dict[str, Any]] = field(default_factory=list)
    categories: dict[str, int] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    timepoint: str = ""  # the follow-up label (simulate_followup), else empty

    def unique_sites(self) -> list[dict[str, Any]]:
        return [s for s in self.sites if s["kind"] == "unique"]

    def multihit_sites(self) -> list[dict[str, Any]]:
        return [s for s in self.sites if s["kind"] == "multihit"]


@dataclass
class _Genome:
    chroms: dict[str, str]
    segdup: list[
        tuple[str, int, int, str]
    ]  # (chrom, start 0-based, length, orientation) copies of one region
    repeat: list[tuple[str, int, int, str]]


def _random_dna(rng: np.random.Generator, n: int, gc: float = 0.41) -> str:
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return rng.choice(np.frombuffer(b"ACGT", dtype=np.uint8), size=n, p=p).tobytes().decode()


def _genome(rng: np.random.Generator, cfg: SimConfig) -> _Genome:
    chroms = {f"chr{i + 1}": _random_dna(rng, n) for i, n in enumerate(cfg.chrom_lengths)}
    names = list(chroms)

    def plant(copies: list[tuple[str, int, str]], unit: str) -> list[tuple[str, int, int, str]]:
        out = []
        for chrom, start, orient in copies:
            s = chroms[chrom]
            piece = unit if orient == "+" else _rc(unit)
            chroms[chrom] = s[:start] + piece + s[start + len(unit) :]
            out.append((chrom, start, len(unit), orient))
        return out

    lengths = {c: len(s) for c, s in chroms.items()}
    seg = _random_dna(rng, 8000)
    segdup = plant(
        [
            (names[0], lengths[names[0]] // 4, "+"),
            (names[1 % len(names)], lengths[names[1 % len(names)]] // 3, "-"),
        ],
        seg,
    )
    rep = _random_dna(rng, 3000)
    repeat = plant(
        [(c, int(lengths[c] * 0.7), "+" if i % 2 == 0 else "-") for i, c in enumerate((names * 3)[:3])], rep
    )
    return _Genome(chroms, segdup, repeat)


def _genes(rng: np.random.Generator, genome: _Genome, cfg: SimConfig) -> list[tuple[str, str, int, int, str]]:
    """(name, chrom, start, end 1-based inclusive, strand): the adverse-event genes and others."""
    names = list(ADVERSE_GENES) + [
        f"GENE{i:04d}" for i in range(1, max(cfg.n_genes - len(ADVERSE_GENES), 0) + 1)
    ]
    chroms = list(genome.chroms)
    genes = []
    for k, name in enumerate(names):
        c = chroms[k % len(chroms)]
        n = len(genome.chroms[c])
        length = int(rng.integers(2000, 30000))
        start = int(rng.integers(5000, n - length - 5000))
        genes.append((name, c, start, start + length - 1, "+" if rng.random() < 0.5 else "-"))
    return genes


def write_gtf(path: Path, genes: list[tuple[str, str, int, int, str]]) -> Path:
    """One GTF ``gene`` line per gene, sorted by chromosome and start."""
    lines = [
        f"{c}\tsim\tgene\t{s}\t{e}\t.\t{st}\t.\t"
        f'gene_id "SIM{i:05d}"; gene_name "{name}"; gene_biotype "protein_coding";'
        for i, (name, c, s, e, st) in enumerate(sorted(genes, key=lambda g: (g[1], g[2])))
    ]
    return atomic_write(path, "\n".join(lines) + "\n")


def write_fasta(path: Path, records: dict[str, str]) -> Path:
    out = []
    for name, seq in records.items():
        out.append(f">{name}")
        out.extend(seq[i : i + 80] for i in range(0, len(seq), 80))
    return atomic_write(path, "\n".join(out) + "\n")


@dataclass
class _Clone:
    chrom: str
    strand: str
    position: int  # 1-based host base joined to the LTR
    cells: int
    kind: str = "unique"
    loci: list[tuple[str, str, int]] = field(default_factory=list)
    tag: str = ""


def _free_position(rng, genome: _Genome, taken: list[tuple[str, int]], margin: int = 3000) -> tuple[str, int]:
    """A random host base away from chromosome ends, duplications, repeats and other sites."""
    blocked = genome.segdup + genome.repeat
    chroms = list(genome.chroms)
    weights = np.array([len(genome.chroms[c]) for c in chroms], dtype=float)
    while True:
        c = chroms[int(rng.choice(len(chroms), p=weights / weights.sum()))]
        p = int(rng.integers(margin, len(genome.chroms[c]) - margin))
        if any(b[0] == c and b[1] - margin < p < b[1] + b[2] + margin for b in blocked):
            continue
        if any(t[0] == c and abs(t[1] - p) < 2 * 1300 for t in taken):
            continue
        return c, p


def _clones(rng, genome: _Genome, genes, cfg: SimConfig) -> list[_Clone]:
    n = cfg.n_clones
    cells = np.maximum(1, np.round(rng.lognormal(1.5, 1.0, size=n))).astype(int)
    taken: list[tuple[str, int]] = []
    clones: list[_Clone] = []

    def strand() -> str:
        return "+" if rng.random() < 0.5 else "-"

    # planted: next to LMO2, two 12 bp apart on one strand, two 3 bp apart on opposite strands
    lmo2 = next(g for g in genes if g[0] == "LMO2")
    tss = lmo2[2] if lmo2[4] == "+" else lmo2[3]
    p = tss - 20_000 if tss - 20_000 > 3000 else tss + 20_000
    clones.append(_Clone(lmo2[1], strand(), p, int(cells[0]) + 5, tag="near_LMO2"))
    taken.append((lmo2[1], p))
    c, p = _free_position(rng, genome, taken)
    s = strand()
    clones.append(_Clone(c, s, p, int(cells[1]) + 3, tag="pair12_a"))
    clones.append(_Clone(c, s, p + 12, int(cells[2]) + 3, tag="pair12_b"))
    taken.append((c, p))
    c, p = _free_position(rng, genome, taken)
    clones.append(_Clone(c, "+", p, int(cells[3]) + 3, tag="opposite3_a"))
    clones.append(_Clone(c, "-", p + 3, int(cells[4]) + 3, tag="opposite3_b"))
    taken.append((c, p))
    # multihits: one in the segmental duplication (2 loci), one in the repeat (3 loci)
    for copies, offset, k in ((genome.segdup, 4000, 5), (genome.repeat, 1500, 6)):
        s = strand()
        loci = []
        for chrom, start, length, orient in copies:
            if orient == "+":
                loci.append((chrom, s, start + offset + 1))
            else:  # the copy is reversed: base ``offset`` sits at start + length - 1 - offset, strand flipped
                loci.append((chrom, "-" if s == "+" else "+", start + length - offset))
        loci.sort()
        clones.append(_Clone(*loci[0], int(cells[k]) + 5, kind="multihit", loci=loci))
    while len(clones) < n:
        c, p = _free_position(rng, genome, taken)
        taken.append((c, p))
        clones.append(_Clone(c, strand(), p, int(cells[len(clones)])))
    # the dominant clone: about dominant_fraction of all cells
    others = sum(cl.cells for cl in clones[1:])
    dom = next(i for i, cl in enumerate(clones) if not cl.tag and cl.kind == "unique")
    clones[dom].cells = max(
        1, int(round(cfg.dominant_fraction / (1 - cfg.dominant_fraction) * (others - clones[dom].cells)))
    )
    clones[dom].tag = "dominant"
    return clones


def _host(genome: _Genome, chrom: str, strand: str, position: int, length: int) -> str:
    """Host DNA of a fragment read from the junction: ``length`` bases away from the LTR."""
    s = genome.chroms[chrom]
    if strand == "+":
        return s[position - 1 : position - 1 + length]
    return _rc(s[max(position - length, 0) : position])


def _oligo_errors(rng, oligo: str, cfg: SimConfig) -> str:
    """Synthesis errors in a primer: Poisson substitutions and, rarely, a one-base deletion."""
    b = list(oligo)
    for _ in range(rng.poisson(cfg.oligo_substitution)):
        i = int(rng.integers(0, len(b)))
        b[i] = "ACGT"[(("ACGT".find(b[i]) if b[i] in "ACGT" else 0) + int(rng.integers(1, 4))) % 4]
    if rng.random() < cfg.oligo_deletion:
        del b[int(rng.integers(0, len(b)))]
    return "".join(b)


def _umi(rng, linker: str) -> str:
    return "".join("ACGT"[int(rng.integers(0, 4))] if c == "N" else c for c in linker)


def _reads(amplicon_top: str, cfg: SimConfig) -> tuple[str, str]:
    """R2 from the LTR end of the amplicon, R1 from the linker end, each into the sequencing adaptor."""
    pad = ILLUMINA_ADAPTOR + "A" * cfg.read_length
    r2 = (amplicon_top + pad)[: cfg.read_length]
    r1 = (_rc(amplicon_top) + pad)[: cfg.read_length]
    return r1, r2


def _sequencing_errors(rng, reads: list[str], cfg: SimConfig) -> list[str]:
    """Substitutions at a rate rising from error_start to error_end along each read (vectorised)."""
    if not reads:
        return reads
    L = cfg.read_length
    arr = np.frombuffer("".join(reads).encode(), dtype=np.uint8).reshape(len(reads), L).copy()
    rate = cfg.error_start + (cfg.error_end - cfg.error_start) * (np.arange(L) / max(L - 1, 1)) ** 2
    hit = rng.random(arr.shape) < rate
    bases = np.frombuffer(b"ACGT", dtype=np.uint8)
    code = np.searchsorted(bases, arr[hit])
    arr[hit] = bases[(np.clip(code, 0, 3) + rng.integers(1, 4, size=code.size)) % 4]
    text = arr.tobytes().decode()
    return [text[i * L : (i + 1) * L] for i in range(len(reads))]


@dataclass
class _World:
    """What every sample of one patient shares: the host genome, its genes, the vector and the clones."""

    genome: _Genome
    genes: list[tuple[str, str, int, int, str]]
    vector: dict[str, str]
    clones: list[_Clone]


def _world(rng: np.random.Generator, cfg: SimConfig) -> _World:
    genome = _genome(rng, cfg)
    genes = _genes(rng, genome, cfg)
    vector = {"pLV": cfg.ltr + _random_dna(rng, 6000, 0.5) + cfg.ltr}
    return _World(genome, genes, vector, _clones(rng, genome, genes, cfg))


def simulate(out_dir: str | Path, seed: int = 7, config: SimConfig | None = None) -> SimTruth:
    """Write genome.fa, genes.gtf, vector.fa, R1/R2 FASTQ and truth.json into ``out_dir``."""
    cfg = config or SimConfig()
    rng = np.random.default_rng(seed)
    world = _world(rng, cfg)
    return _write_sample(Path(out_dir), rng, world, world.clones, cfg)


def _write_sample(
    out: Path, rng: np.random.Generator, world: _World, clones: list[_Clone], cfg: SimConfig, label: str = ""
) -> SimTruth:
    """One library of ``clones`` (cells as given) in ``world``: reads, reference files and truth.json."""
    out.mkdir(parents=True, exist_ok=True)
    genome, genes, vector = world.genome, world.genes, world.vector
    # sonication and capture: fragments per clone, then PCR copies, then the clone pairs
    frag_clone, frag_len = [], []
    for j, cl in enumerate(clones):
        k = rng.binomial(cl.cells, cfg.capture) if cl.cells else 0
        k = max(k, 1)
        lens = np.clip(np.round(rng.lognormal(np.log(cfg.fragment_median), cfg.fragment_sigma, k)), 30, 1200)
        frag_clone.extend([j] * k)
        frag_len.extend(int(x) for x in lens)
    frag_clone_a, frag_len_a = np.array(frag_clone), np.array(frag_len)
    n_art = {
        "chimera": int(cfg.n_pairs * cfg.chimera),
        "mispriming": int(cfg.n_pairs * cfg.mispriming),
        "primer_dimer": int(cfg.n_pairs * cfg.primer_dimer),
        "vector": int(cfg.n_pairs * cfg.vector_internal),
    }
    n_site = cfg.n_pairs - sum(n_art.values())
    weights = rng.lognormal(0.0, cfg.pcr_sigma, frag_clone_a.size)
    copies = rng.multinomial(n_site, weights / weights.sum())
    umis = [_umi(rng, cfg.linker) for _ in range(frag_clone_a.size)]

    tops: list[str] = []  # amplicon top strand (LTR primer first) per pair, or (R1, R2) for chimeras
    r1_override: dict[int, str] = {}
    reads_per_clone = Counter()
    lengths_per_clone: dict[int, set[int]] = {}
    for f in np.flatnonzero(copies):
        cl = clones[frag_clone_a[f]]
        length = int(frag_len_a[f])
        reads_per_clone[frag_clone_a[f]] += int(copies[f])
        lengths_per_clone.setdefault(int(frag_clone_a[f]), set()).add(length)
        for _ in range(int(copies[f])):
            start, ln = cl.position, length
            if rng.random() < cfg.jitter:  # junction 1-2 bp off: host bases lost or gained at the LTR
                d = int(rng.choice([-2, -1, 1, 2]))
                start = start + d if cl.strand == "+" else start - d
                ln = length - d
            host = _host(genome, cl.chrom, cl.strand, start, ln)
            # the primer is an oligo (synthesis errors); the LTR end after it is the provirus's own sequence
            ltr = _oligo_errors(rng, cfg.ltr[:-PRIMER_GAP], cfg) + cfg.ltr[-PRIMER_GAP:]
            tops.append(ltr + host + _rc(_oligo_errors(rng, umis[f], cfg)))
    # artefacts
    chroms = list(genome.chroms)
    for _ in range(n_art["chimera"]):
        a, b = rng.integers(0, frag_clone_a.size, 2)
        ca, cb = clones[frag_clone_a[a]], clones[frag_clone_a[b]]
        top_a = cfg.ltr + _host(genome, ca.chrom, ca.strand, ca.position, int(frag_len_a[a])) + _rc(umis[a])
        top_b = cfg.ltr + _host(genome, cb.chrom, cb.strand, cb.position, int(frag_len_a[b])) + _rc(umis[b])
        # a template switch in PCR: the molecule's linker end comes from another fragment
        r1_override[len(tops)] = _reads(top_b, cfg)[0]
        tops.append(top_a)
    primer = cfg.ltr[:-PRIMER_GAP]
    for _ in range(n_art["mispriming"]):
        c = chroms[int(rng.integers(0, len(chroms)))]
        p = int(rng.integers(2000, len(genome.chroms[c]) - 2000))
        host = _host(genome, c, "+" if rng.random() < 0.5 else "-", p, int(rng.integers(80, 600)))
        tops.append(primer + host + _rc(_umi(rng, cfg.linker)))
    for _ in range(n_art["primer_dimer"]):
        tops.append(cfg.ltr + _random_dna(rng, int(rng.integers(0, 6))) + _rc(_umi(rng, cfg.linker)))
    vseq = vector["pLV"]
    for _ in range(n_art["vector"]):
        p = int(rng.integers(len(cfg.ltr), len(vseq) - len(cfg.ltr) - 700))
        tops.append(cfg.ltr + vseq[p : p + int(rng.integers(100, 600))] + _rc(_umi(rng, cfg.linker)))

    r1s, r2s = [], []
    for i, top in enumerate(tops):
        r1, r2 = _reads(top, cfg)
        r1s.append(r1_override.get(i, r1))
        r2s.append(r2)
    r1s = _sequencing_errors(rng, r1s, cfg)
    r2s = _sequencing_errors(rng, r2s, cfg)
    order = rng.permutation(len(tops))
    qual = "F" * cfg.read_length
    for name, reads in (("R1", r1s), ("R2", r2s)):
        mate = name[1]
        text = "".join(f"@sim{k + 1} {mate}:N:0:1\n{reads[i]}\n+\n{qual}\n" for k, i in enumerate(order))
        atomic_write(out / f"sample_{name}.fastq", text)
    write_fasta(out / "genome.fa", genome.chroms)
    write_fasta(out / "vector.fa", vector)
    write_gtf(out / "genes.gtf", genes)

    truth = SimTruth(config=asdict(cfg), timepoint=label)
    for j, cl in enumerate(clones):
        loci = cl.loci or [(cl.chrom, cl.strand, cl.position)]
        truth.sites.append(
            {
                "posid": f"{cl.chrom}{cl.strand}{cl.position}",
                "chrom": cl.chrom,
                "strand": cl.strand,
                "position": cl.position,
                "kind": cl.kind,
                "loci": [f"{c}{s}{p}" for c, s, p in loci],
                "cells": cl.cells,
                "unique_lengths": len(lengths_per_clone.get(j, ())),
                "read_pairs": int(reads_per_clone.get(j, 0)),
                "tag": cl.tag,
            }
        )
    truth.categories = {"site": n_site, **n_art}
    truth.files = {
        "r1": str(out / "sample_R1.fastq"),
        "r2": str(out / "sample_R2.fastq"),
        "genome": str(out / "genome.fa"),
        "vector": str(out / "vector.fa"),
        "genes": str(out / "genes.gtf"),
        "ltr": cfg.ltr,
        "linker": cfg.linker,
    }
    atomic_write(out / "truth.json", json.dumps(asdict(truth), indent=1, sort_keys=True))
    return truth


# ---- a follow-up: the same clones at several timepoints ---------------------------------------------------
FOLLOWUP_LABELS = ("month6", "month12", "month24")


@dataclass(frozen=True)
class FollowupConfig:
    """How clone sizes change between timepoints (see :func:`simulate_followup`)."""

    drift_sigma: float = 0.5  # sd of each clone's log change in cells per interval (a log-normal walk)
    rising_start: float = 0.008  # the rising clone's share of cells at the first timepoint ...
    rising_factor: float = 3.0  # ... multiplied by this at every later timepoint (capped at rising_cap)
    rising_cap: float = 0.5
    dominant_factor: float = 0.6  # the dominant clone's cells are multiplied by this per interval


def followup_cells(
    rng: np.random.Generator, clones: list[_Clone], n_timepoints: int, fcfg: FollowupConfig
) -> list[list[int]]:
    """Cells of every clone at every timepoint (first = the clones as drawn). The clone tagged ``rising``
    holds ``rising_start * rising_factor**k`` of the cells at timepoint k; the dominant clone shrinks by
    ``dominant_factor`` per interval; every other clone drifts on its own log-normal walk."""
    n = len(clones)
    steps = rng.normal(0.0, fcfg.drift_sigma, size=(max(n_timepoints - 1, 0), n))
    log_mult = np.vstack([np.zeros((1, n)), np.cumsum(steps, axis=0)])
    base = np.array([cl.cells for cl in clones], dtype=float)
    out = []
    for k in range(n_timepoints):
        cells = np.maximum(1, np.round(base * np.exp(log_mult[k]))).astype(int)
        for j, cl in enumerate(clones):
            if cl.tag == "dominant":
                cells[j] = max(1, round(cl.cells * fcfg.dominant_factor**k))
        r = next(j for j, cl in enumerate(clones) if cl.tag == "rising")
        f = min(fcfg.rising_start * fcfg.rising_factor**k, fcfg.rising_cap)
        cells[r] = max(1, round(f / (1 - f) * (cells.sum() - cells[r])))
        out.append([int(c) for c in cells])
    return out


def simulate_followup(
    out_dir: str | Path,
    seed: int = 7,
    labels: tuple[str, ...] | list[str] = FOLLOWUP_LABELS,
    config: SimConfig | None = None,
    followup: FollowupConfig | None = None,
) -> list[SimTruth]:
    """One patient's follow-up: one genome and one clone set, a sample per timepoint in ``out_dir/LABEL``
    (the files of :func:`simulate`, with that timepoint's cells in truth.json). The last untagged unique
    clone is tagged ``rising``; clone sizes change as :func:`followup_cells` states."""
    cfg, fcfg = config or SimConfig(), followup or FollowupConfig()
    labels = list(labels)
    if not labels or len(set(labels)) != len(labels):
        raise ValueError(f"follow-up labels must be distinct and not empty: {labels}")
    rng = np.random.default_rng(seed)
    world = _world(rng, cfg)
    rising = max(j for j, cl in enumerate(world.clones) if not cl.tag and cl.kind == "unique")
    world.clones[rising].tag = "rising"
    cells = followup_cells(rng, world.clones, len(labels), fcfg)
    out = Path(out_dir)
    return [
        _write_sample(
            out / label,
            rng,
            world,
            [replace(cl, cells=c) for cl, c in zip(world.clones, cells[k], strict=True)],
            cfg,
            label,
        )
        for k, label in enumerate(labels)
    ]
