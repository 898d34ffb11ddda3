"""Integration-site calling from paired LM-PCR reads: the ``cgtqc integration call`` pipeline.

Read pairs are checked as they stream in (same read names in the same order in both files), trimmed
(:mod:`~cgtqc.seq.integration.trim`), placed on the host genome with minimap2
(:mod:`~cgtqc.seq.integration.placement`; the vector's contigs share the index, so vector-internal reads
are recognised), and counted per (site, shear, UMI) in each batch. The counts are all that leaves a batch,
so memory grows with the number of distinct fragments, not reads, and batches on ``threads`` worker
processes (fork) merge exactly in file order. The merged counts become sites, multihit groups and sonicLength
abundance (:mod:`~cgtqc.seq.integration.sites`), then the diversity and the safety flags of the population.
Every output is computed before the first file is written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cgtqc import __version__
from cgtqc.errors import InputError
from cgtqc.results import atomic_write
from cgtqc.seq.integration.placement import VECTOR_PREFIX, PlacementFilters, place_pair
from cgtqc.seq.integration.sites import Site, absorb_into_groups, fit_abundance, multihit_groups, unique_sites
from cgtqc.seq.integration.trim import Adaptors, Trimmer

TRIM_CATEGORIES = ("no_ltr", "mispriming", "no_linker", "primer_dimer", "short_host")
PLACE_CATEGORIES = ("unique", "multihit", "vector", "unmapped", "filtered", "unpaired", "chimera")
SITE_COLUMNS = (
    "posid",
    "chrom",
    "strand",
    "position",
    "read_pairs",
    "fragments",
    "unique_lengths",
    "umis",
    "theta",
    "relative",
    "nearest_gene",
    "distance",
    "flags",
)
MULTIHIT_COLUMNS = (
    "posid",
    "loci",
    "read_pairs",
    "fragments",
    "unique_lengths",
    "umis",
    "theta",
    "relative",
    "flags",
)
BATCH_PAIRS = 20_000


@dataclass(frozen=True)
class CallSettings:
    """Everything that decides the calls (execution settings such as threads are kept apart)."""

    adaptors: Adaptors
    filters: PlacementFilters = PlacementFilters()
    window: int = 5
    phi: str = "spline"
    best_n: int = 10


@dataclass
class BatchCounts:
    """What one batch of pairs gives: pairs per category, per unique fragment key, per multihit key."""

    categories: Counter = field(default_factory=Counter)
    unique: Counter = field(default_factory=Counter)
    multihit: Counter = field(default_factory=Counter)

    def add(self, other: BatchCounts) -> None:
        self.categories.update(other.categories)
        self.unique.update(other.unique)
        self.multihit.update(other.multihit)


@dataclass
class CallResult:
    """Sites, multihit groups, the summary document and the inputs' digests."""

    sites: list[Site]
    groups: list[Site]
    summary: dict[str, Any]
    inputs: dict[str, str]  # path -> SHA-256


# ---- reading pairs ------------------------------------------------------------------------------------
def _strip_mate(name: str) -> str:
    return name[:-2] if name.endswith(("/1", "/2")) else name


def read_pair_batches(
    r1: Path, r2: Path, size: int, digests: dict[str, Any] | None = None
) -> Iterator[tuple[list[str], list[str]]]:
    """(R1 sequences, R2 sequences) in batches of ``size``; InputError at the first mismatched pair."""
    from cgtqc.seq.fastq import read_chunks

    d1 = digests.get(str(r1)) if digests else None
    d2 = digests.get(str(r2)) if digests else None
    it1, it2 = read_chunks(r1, size, d1), read_chunks(r2, size, d2)
    ids1: list[str] = []
    ids2: list[str] = []
    s1: list[str] = []
    s2: list[str] = []
    n_done = 0
    ended1 = ended2 = False
    while True:
        while not ended1 and len(s1) < size:
            c = next(it1, None)
            if c is None:
                ended1 = True
            else:
                ids1.extend(c.ids)
                s1.extend(c.sequences)
        while not ended2 and len(s2) < size:
            c = next(it2, None)
            if c is None:
                ended2 = True
            else:
                ids2.extend(c.ids)
                s2.extend(c.sequences)
        k = min(len(s1), len(s2), size)
        if k == 0:
            if s1 or s2:
                short, other = (r1, r2) if not s1 else (r2, r1)
                raise InputError(
                    f"ends after {n_done} reads but {other.name} has more (mismatched pairs)",
                    file=short,
                    place=f"record {n_done + 1}",
                )
            return
        a, b = list(map(_strip_mate, ids1[:k])), list(map(_strip_mate, ids2[:k]))
        if a != b:
            i = next(j for j in range(k) if a[j] != b[j])
            raise InputError(
                f"read names differ between the pair files: {ids1[i]!r} vs {ids2[i]!r} (mismatched pairs)",
                file=r2,
                place=f"record {n_done + i + 1}",
            )
        yield [x.upper() for x in s1[:k]], [x.upper() for x in s2[:k]]
        del ids1[:k], ids2[:k], s1[:k], s2[:k]
        n_done += k


# ---- the index and the per-process worker -------------------------------------------------------------
def _check_fasta(path: Path, what: str) -> None:
    if not path.is_file():
        raise InputError(f"{what} FASTA not found", file=path)
    with open(path, "rb") as fh:
        head = fh.read(1)
    if head != b">":
        raise InputError(f"not a FASTA file (does not start with '>'): {what}", file=path)


def build_index(genome: Path, vector: Path | None, folder: Path) -> str:
    """The FASTA to index: the genome itself, or genome + vector contigs (prefixed) in ``folder``."""
    _check_fasta(genome, "genome")
    if vector is None:
        return str(genome)
    from cgtqc.seq.align import read_fasta

    _check_fasta(vector, "vector")
    out = folder / "genome_vector.fa"
    with open(out, "w") as fh:
        for name, seq in read_fasta(genome):
            fh.write(f">{name}\n{seq}\n")
        for name, seq in read_fasta(vector):
            fh.write(f">{VECTOR_PREFIX}{name}\n{seq}\n")
    return str(out)


_STATE: dict[str, Any] = {}


def _load(index: str, settings: CallSettings) -> None:
    import mappy

    aligner = mappy.Aligner(index, preset="sr", best_n=settings.best_n)
    if not aligner:
        raise InputError("could not build the minimap2 index (not a FASTA genome?)", file=index)
    _STATE.update(aligner=aligner, trimmer=Trimmer(settings.adaptors), settings=settings)


def count_batch(batch: tuple[list[str], list[str]]) -> BatchCounts:
    """Trim and place one batch with this process's aligner; counts only."""
    r1s, r2s = batch
    aligner, trimmer, settings = _STATE["aligner"], _STATE["trimmer"], _STATE["settings"]
    filters = settings.filters
    out = BatchCounts()
    cats, uniq, multi = out.categories, out.unique, out.multihit
    trim = trimmer.trim
    for r1, r2 in zip(r1s, r2s, strict=False):
        t = trim(r1, r2)
        if t.category != "ok":
            cats[t.category] += 1
            continue
        cat, loci = place_pair(aligner, t.host2, t.host1, filters)
        cats[cat] += 1
        if cat == "unique":
            lc = loci[0]
            uniq[lc.chrom, lc.strand, lc.position, lc.shear, t.umi] += 1
        elif cat == "multihit":
            multi[tuple((lc.chrom, lc.strand, lc.position, lc.shear) for lc in loci), t.umi] += 1
    return out


def _sha256_plain(path: Path) -> Any:
    """A hashlib object to feed while reading a plain file, or None for gzip (hashed apart)."""
    with open(path, "rb") as fh:
        return None if fh.read(2) == b"\x1f\x8b" else hashlib.sha256()


def count_pairs(
    r1: Path, r2: Path, index: str, settings: CallSettings, threads: int = 1, batch_pairs: int = BATCH_PAIRS
) -> tuple[BatchCounts, dict[str, str]]:
    """Counts of every pair of the two files, and the files' SHA-256 (read in the same pass)."""
    from cgtqc.results import sha256_file

    digests = {str(p): _sha256_plain(p) for p in (r1, r2) if p.is_file()}
    digests = {k: v for k, v in digests.items() if v is not None}
    total = BatchCounts()
    batches = read_pair_batches(r1, r2, batch_pairs, digests)
    _load(index, settings)
    if threads <= 1:
        for b in batches:
            total.add(count_batch(b))
    else:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(threads) as pool:  # workers inherit the aligner built above
            for part in pool.imap(count_batch, batches):
                total.add(part)
    sha = {str(p): (digests[str(p)].hexdigest() if str(p) in digests else sha256_file(p)) for p in (r1, r2)}
    return total, sha


# ---- from counts to sites -----------------------------------------------------------------------------
def _genome_size(index: str) -> int:
    import mappy

    n = 0
    for _name, seq, _q in mappy.fastx_read(index):
        n += len(seq)
    return n


def annotate(
    sites: list[Site], groups: list[Site], genes: Path | None, genome_size: int, dominant_fraction: float
) -> dict[str, Any]:
    """Nearest gene, distance to its TSS (signed, in the gene's direction) and safety flags, in place."""
    from cgtqc.seq.integration.genes import GeneSet
    from cgtqc.seq.integration.safety import DOMINANT, SafetyRules, assess_sites

    rules = SafetyRules(dominant_fraction=dominant_fraction, genome_size=max(genome_size, 1))
    gene_set = GeneSet.read(genes) if genes is not None else None
    if sites:
        safety = assess_sites(
            [s.chrom for s in sites],
            [s.position for s in sites],
            [s.relative for s in sites],
            gene_set,
            rules,
        )
        for i, s in enumerate(sites):
            s.flags = tuple(safety.flags[i])
            if safety.annotation is not None:
                hit = safety.annotation.hit(i)
                s.nearest_gene, s.distance = hit.nearest_gene, hit.distance_to_tss
        summary = safety.summary()
    else:
        summary = {"flag_counts": {}, "sites_near_ae_genes": 0 if gene_set is not None else None}
    for g in groups:
        if g.relative >= dominant_fraction:
            g.flags = (DOMINANT,)
    summary["dominant_multihit_groups"] = sum(1 for g in groups if g.flags)
    return summary


def call_sites(
    r1: str | Path,
    r2: str | Path,
    genome: str | Path,
    settings: CallSettings,
    *,
    vector: str | Path | None = None,
    genes: str | Path | None = None,
    threads: int = 1,
    dominant_fraction: float = 0.20,
    parameters: dict[str, Any] | None = None,
) -> CallResult:
    """The whole call: counts, sites, multihit groups, abundance, diversity, flags and the summary."""
    from cgtqc.seq.integration.diversity import diversity

    r1, r2, genome = Path(r1), Path(r2), Path(genome)
    vec = Path(vector) if vector is not None else None
    gtf = Path(genes) if genes is not None else None
    for p, what in ((r1, "R1"), (r2, "R2")):
        if not p.is_file():
            raise InputError(f"{what} reads file not found", file=p)
    if gtf is not None and not gtf.is_file():
        raise InputError("gene annotation file not found", file=gtf)
    with tempfile.TemporaryDirectory(prefix="cgtqc-intcall-") as tmp:
        index = build_index(genome, vec, Path(tmp))
        counts, sha = count_pairs(r1, r2, index, settings, threads)
        genome_size = _genome_size(str(genome))
    sites = unique_sites(counts.unique, settings.window)
    groups = multihit_groups(counts.multihit, settings.window)
    sites = absorb_into_groups(sites, groups, settings.window)
    fit = fit_abundance(sites, groups, settings.phi)
    flags = annotate(sites, groups, gtf, genome_size, dominant_fraction)
    for f in (vec, gtf, genome):
        if f is not None:
            from cgtqc.results import sha256_file

            sha[str(f)] = sha256_file(f)
    everyone = sites + groups
    div = (
        diversity([s.theta for s in everyone], counts=[s.unique_lengths for s in everyone]).to_dict()
        if everyone
        else None
    )
    cats = {c: int(counts.categories.get(c, 0)) for c in TRIM_CATEGORIES + PLACE_CATEGORIES}
    summary = {
        "engine": "integration",
        "version": __version__,
        "read_pairs": sum(cats.values()),
        "categories": cats,
        "sites": len(sites),
        "multihit_groups": len(groups),
        "fragments": sum(len(s.shears) for s in everyone),
        "abundance": None
        if fit is None
        else {
            "model": "sonicLength",
            "phi_variant": fit.phi_variant,
            "iterations": fit.iterations,
            "converged": fit.converged,
            "population": "unique sites and multihit groups",
        },
        "diversity": None
        if div is None
        else {**div, "abundance": "sonicLength theta", "chao1_counts": "unique fragment lengths"},
        "flags": flags,
        "parameters": parameters or {},
        "inputs": [{"path": p, "sha256": h} for p, h in sha.items()],
    }
    order = sorted(range(len(sites)), key=lambda i: (-sites[i].theta, sites[i].posid))
    gorder = sorted(range(len(groups)), key=lambda i: (-groups[i].theta, groups[i].posid))
    return CallResult([sites[i] for i in order], [groups[i] for i in gorder], summary, sha)


# ---- outputs ------------------------------------------------------------------------------------------
def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def table_text(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_fmt(r[c]) for c in columns])
    return buf.getvalue()


def write_outputs(result: CallResult, out_dir: str | Path) -> dict[str, Path]:
    """``sites.tsv``, ``multihits.tsv`` and ``summary.json``, each written whole (atomic rename)."""
    out = Path(out_dir)
    texts = {
        "sites.tsv": table_text([s.row() for s in result.sites], SITE_COLUMNS),
        "multihits.tsv": table_text([g.row() for g in result.groups], MULTIHIT_COLUMNS),
        "summary.json": json.dumps(result.summary, indent=1, sort_keys=True, default=float) + "\n",
    }
    try:
        out.mkdir(parents=True, exist_ok=True)
        return {name: atomic_write(out / name, text) for name, text in texts.items()}
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror or exc}", file=out) from None
