"""Amplicon read simulator with known truth, for tests, the demo and the benchmark.

Each read is drawn from a set of alleles (wild type, indels around the cut site, HDR donor,
optional point edits), then sequencing errors are added as substitutions at a per-base rate. The
truth (allele of every read) is returned with the reads, so an analysis can be checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cgtqc.seq.editing.align import reverse_complement
from cgtqc.seq.reads import open_text_output

_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


@dataclass(frozen=True)
class Allele:
    """One true allele: its kind ('wt', 'deletion', 'insertion', 'hdr', 'point') and sequence."""

    kind: str
    sequence: str
    detail: str = ""


@dataclass
class SimulatedSample:
    """Reads with their true alleles."""

    names: list[str]
    sequences: list[str]
    qualities: list[str]
    truth: list[int]  # index into alleles, per read
    alleles: list[Allele]
    mates: list[str] | None = None  # R2 sequences (as sequenced, reverse strand) when paired
    mate_qualities: list[str] | None = None
    reads_with_errors: int = 0

    def fraction(self, kind: str) -> float:
        """True fraction of reads whose allele is of this kind."""
        kinds = np.array([self.alleles[t].kind for t in self.truth])
        return float(np.mean(kinds == kind)) if len(kinds) else 0.0

    def write_fastq(self, path: str | Path, path_r2: str | Path | None = None) -> list[Path]:
        """Write R1 (and R2 when paired) as FASTQ, gzip when the name ends in .gz."""
        out = [_write(Path(path), self.names, self.sequences, self.qualities, "/1" if self.mates else "")]
        if self.mates is not None and path_r2 is not None:
            out.append(_write(Path(path_r2), self.names, self.mates, self.mate_qualities or [], "/2"))
        return out


def _write(path: Path, names: list[str], seqs: list[str], quals: list[str], suffix: str) -> Path:
    with open_text_output(path) as fh:  # byte-reproducible gzip, so provenance hashes repeat
        for n, s, q in zip(names, seqs, quals, strict=True):
            fh.write(f"@{n}{suffix}\n{s}\n+\n{q}\n")
    return path


def edit_alleles(
    amplicon: str,
    cut_site: int,
    n_indels: int,
    rng: np.random.Generator,
    max_deletion: int = 30,
    max_insertion: int = 10,
) -> list[Allele]:
    """Distinct indel alleles that overlap the cut (between ``cut_site`` and ``cut_site + 1``)."""
    seen = {amplicon}
    out: list[Allele] = []
    while len(out) < n_indels:
        if rng.random() < 0.7:
            size = int(rng.integers(1, max_deletion + 1))
            start = int(rng.integers(cut_site - size + 1, cut_site + 2))
            start = max(1, min(start, len(amplicon) - size - 1))
            seq = amplicon[:start] + amplicon[start + size :]
            allele = Allele("deletion", seq, f"{start}del{size}")
        else:
            size = int(rng.integers(1, max_insertion + 1))
            ins = "".join(rng.choice(list("ACGT"), size))
            seq = amplicon[: cut_site + 1] + ins + amplicon[cut_site + 1 :]
            allele = Allele("insertion", seq, f"{cut_site}ins{ins}")
        if seq not in seen:
            seen.add(seq)
            out.append(allele)
    return out


def simulate_reads(
    amplicon: str,
    n_reads: int,
    *,
    cut_site: int,
    indel_fraction: float = 0.25,
    n_indel_alleles: int = 20,
    hdr_donor: str | None = None,
    hdr_fraction: float = 0.0,
    point_edits: list[tuple[int, str]] | None = None,
    point_fraction: float = 0.0,
    error_rate: float = 0.003,
    reverse_fraction: float = 0.0,
    paired_read_length: int | None = None,
    seed: int = 0,
) -> SimulatedSample:
    """Simulate amplicon reads with known alleles and a per-base substitution error rate.

    Indel allele frequencies fall off geometrically (a few dominant alleles, a long tail), as in
    edited cell pools. ``point_edits`` (position, base) make one 'point' allele (base editing).
    ``paired_read_length`` gives R1/R2 pairs of that length from the two ends of each molecule.
    """
    rng = np.random.default_rng(seed)
    alleles = [Allele("wt", amplicon)]
    probs = [max(0.0, 1.0 - indel_fraction - hdr_fraction - point_fraction)]
    if indel_fraction > 0 and n_indel_alleles > 0:
        edits = edit_alleles(amplicon, cut_site, n_indel_alleles, rng)
        w = 0.8 ** np.arange(len(edits))
        w = w / w.sum() * indel_fraction
        alleles += edits
        probs += list(w)
    if hdr_donor and hdr_fraction > 0:
        alleles.append(Allele("hdr", hdr_donor))
        probs.append(hdr_fraction)
    if point_edits and point_fraction > 0:
        s = list(amplicon)
        for pos, base in point_edits:
            s[pos] = base
        alleles.append(Allele("point", "".join(s), ",".join(f"{p}{b}" for p, b in point_edits)))
        probs.append(point_fraction)
    p = np.array(probs, dtype=float)
    p = p / p.sum()
    truth = rng.choice(len(alleles), size=n_reads, p=p)
    allele_bytes = [np.frombuffer(a.sequence.encode(), dtype=np.uint8) for a in alleles]
    names, seqs, quals, mates, mate_quals = [], [], [], [], []
    with_errors = 0
    for k, t in enumerate(truth):
        b = allele_bytes[t].copy()
        errs = np.flatnonzero(rng.random(b.shape[0]) < error_rate)
        if errs.size:
            with_errors += 1
            for e in errs:
                choices = _BASES[_BASES != b[e]]
                b[e] = choices[rng.integers(0, 3)]
        seq = b.tobytes().decode()
        names.append(f"sim_{k}_{alleles[t].kind}")
        if paired_read_length:
            r1 = seq[:paired_read_length]
            r2 = reverse_complement(seq[-paired_read_length:])
            seqs.append(r1)
            quals.append("I" * len(r1))
            mates.append(r2)
            mate_quals.append("I" * len(r2))
            continue
        if reverse_fraction and rng.random() < reverse_fraction:
            seq = reverse_complement(seq)
        seqs.append(seq)
        quals.append("I" * len(seq))
    return SimulatedSample(
        names,
        seqs,
        quals,
        [int(t) for t in truth],
        alleles,
        mates if paired_read_length else None,
        mate_quals if paired_read_length else None,
        with_errors,
    )
