"""Long-read amplicon simulator with known truth, for large-deletion calling.

A random amplicon (no repeats longer than chance) is cut at ``cut_site``. Each read is one of:
unmodified, a small indel at the cut (1–20 bp), a large deletion spanning the cut (size log-uniform in
[``min_size``, ``max_size``], breakpoints kept ``margin`` bp away from the amplicon ends), or truncated
(a fragment that does not span the amplicon, which a caller must leave out of the denominator).
Sequencing errors (substitutions, insertions, deletions at ``error_rate`` in the ratio 2:1:1) are added
after editing. Everything is drawn from one ``numpy`` generator seeded with ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


@dataclass(frozen=True)
class SimulatedRead:
    """Truth of one simulated read."""

    name: str
    outcome: str  # "unmodified", "small_indel", "large_deletion", "truncated"
    deletion_start: int | None = None  # 0-based reference coordinate of the first deleted base
    deletion_size: int | None = None


@dataclass
class LongReadAmpliconSample:
    """Files written by :func:`simulate_long_read_amplicons` and the truth behind them."""

    reference_fasta: Path
    reads_fastq: Path
    reference: str
    cut_site: int
    reads: list[SimulatedRead]

    @property
    def large_deletion_fraction(self) -> float:
        spanning = [r for r in self.reads if r.outcome != "truncated"]
        return sum(r.outcome == "large_deletion" for r in spanning) / len(spanning)


def _random_seq(rng: np.random.Generator, n: int) -> bytes:
    return _BASES[rng.integers(0, 4, n)].tobytes()


def add_errors(rng: np.random.Generator, seq: bytes, rate: float) -> bytes:
    """Substitutions, insertions and deletions (2:1:1) at total per-base ``rate``."""
    if rate <= 0:
        return seq
    arr = np.frombuffer(seq, dtype=np.uint8)
    u = rng.random(len(arr))
    sub = u < rate / 2
    ins = (u >= rate / 2) & (u < 3 * rate / 4)
    dele = (u >= 3 * rate / 4) & (u < rate)
    out = arr.copy()
    shift = rng.integers(1, 4, len(arr))
    codes = np.searchsorted(_BASES, out)
    out[sub] = _BASES[(codes[sub] + shift[sub]) % 4]
    pieces: list[bytes] = []
    last = 0
    for i in np.nonzero(ins | dele)[0]:
        pieces.append(out[last:i].tobytes())
        if ins[i]:
            pieces.append(out[i:i + 1].tobytes() + _BASES[rng.integers(0, 4)].tobytes())
        last = i + 1
    pieces.append(out[last:].tobytes())
    return b"".join(pieces)


def simulate_long_read_amplicons(
    out_dir: str | Path,
    *,
    n_reads: int = 1000,
    amplicon_length: int = 7000,
    cut_site: int = 3500,
    large_deletion_fraction: float = 0.2,
    small_indel_fraction: float = 0.3,
    truncated_fraction: float = 0.03,
    min_size: int = 50,
    max_size: int = 5000,
    margin: int = 300,
    error_rate: float = 0.01,
    seed: int = 1,
    name: str = "longamp",
) -> LongReadAmpliconSample:
    """Write ``<name>_ref.fa`` and ``<name>.fastq`` into ``out_dir``; return the files and the truth."""
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ref = _random_seq(rng, amplicon_length)
    truth: list[SimulatedRead] = []
    records: list[str] = []
    p = np.array([large_deletion_fraction, small_indel_fraction, truncated_fraction])
    p_unmod = 1.0 - p.sum()
    if p_unmod < 0:
        raise ValueError("outcome fractions add up to more than 1")
    outcomes = rng.choice(4, size=n_reads, p=[p_unmod, *p])
    for i, kind in enumerate(outcomes):
        rname = f"read{i:06d}"
        if kind == 1:  # large deletion spanning the cut
            lo_size, hi_size = np.log(min_size), np.log(min(max_size, amplicon_length - 2 * margin))
            size = int(round(np.exp(rng.uniform(lo_size, hi_size))))
            lo = max(margin, cut_site - size + 1)
            hi = min(cut_site, amplicon_length - margin - size)
            start = int(rng.integers(lo, hi + 1))
            seq = ref[:start] + ref[start + size:]
            truth.append(SimulatedRead(rname, "large_deletion", start, size))
        elif kind == 2:  # small indel at the cut
            k = int(rng.integers(1, 21))
            if rng.random() < 0.5:
                start = cut_site - int(rng.integers(0, k))
                seq = ref[:start] + ref[start + k:]
            else:
                seq = ref[:cut_site] + _random_seq(rng, k) + ref[cut_site:]
            truth.append(SimulatedRead(rname, "small_indel"))
        elif kind == 3:  # truncated fragment
            a = int(rng.integers(0, amplicon_length // 2))
            b = int(rng.integers(a + 500, amplicon_length - margin))
            seq = ref[a:b]
            truth.append(SimulatedRead(rname, "truncated"))
        else:
            seq = ref
            truth.append(SimulatedRead(rname, "unmodified"))
        seq = add_errors(rng, seq, error_rate)
        if rng.random() < 0.5:  # amplicon reads come from both strands
            seq = seq[::-1].translate(bytes.maketrans(b"ACGT", b"TGCA"))
        qual = "".join(chr(33 + q) for q in rng.integers(15, 40, len(seq)))
        records.append(f"@{rname}\n{seq.decode()}\n+\n{qual}\n")
    ref_fa = out_dir / f"{name}_ref.fa"
    ref_fa.write_text(f">{name}\n" + "\n".join(ref[i:i + 80].decode() for i in range(0, len(ref), 80)) + "\n")
    fq = out_dir / f"{name}.fastq"
    fq.write_text("".join(records))
    return LongReadAmpliconSample(ref_fa, fq, ref.decode(), cut_site, truth)
