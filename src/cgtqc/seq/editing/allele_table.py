"""CRISPResso2 2.3.4's allele tables as text, without pandas (byte-for-byte the same table).

CRISPResso2 builds them with pandas; the same rules in plain Python cost a small fraction of the run:

* ``Alleles_frequency_table.txt``: one row per allele, ``%Reads`` = reads / all aligned reads * 100,
  rows sorted by reads (descending), then aligned sequence and reference sequence (ascending), ties in
  first-seen order (pandas' multi-key sort is stable).
* ``Alleles_frequency_table_around_<guide>.txt``: each allele of a reference cut to the bases around a cut
  point, grouped by (aligned, reference, unedited, n_deleted, n_inserted, n_mutated) with reads summed and
  ``%Reads`` summed as pandas' groupby sums floats (Kahan-compensated, in table order), then sorted by
  reads, aligned and reference sequence (stable, over the groups in key order).

Numbers are written as pandas' ``to_csv`` writes them: ``str`` of ints and bools, the shortest round-trip
``repr`` of floats.
"""

from __future__ import annotations

from collections.abc import Sequence

from cgtqc.seq.editing.results import ALLELE_COLUMNS, Allele

AROUND_COLUMNS = ["Aligned_Sequence", "Reference_Sequence", "Unedited", "n_deleted", "n_inserted",
                  "n_mutated", "#Reads", "%Reads"]


def sorted_alleles(alleles: Sequence[Allele]) -> list[Allele]:
    """The rows in CRISPResso2's order (reads descending, then aligned and reference sequence)."""
    return sorted(alleles, key=lambda a: (-a.reads, a.aligned_sequence, a.reference_sequence))


def allele_table_text(rows: Sequence[Allele], total_reads: int) -> str:
    """``Alleles_frequency_table.txt`` of rows already in :func:`sorted_alleles` order."""
    lines = ["\t".join(ALLELE_COLUMNS)]
    lines += [
        f"{a.aligned_sequence}\t{a.reference_sequence}\t{a.reference_name}\t{a.read_status}\t{a.n_deleted}\t"
        f"{a.n_inserted}\t{a.n_mutated}\t{a.reads}\t{a.reads / total_reads * 100!r}"
        for a in rows
    ]
    return "\n".join(lines) + "\n"


def cut_column(aligned_ref: str, cut: int) -> int:
    """The alignment column of reference base ``cut`` (CRISPResso2's ``ref_positions.index(cut)``)."""
    col = cut
    while True:
        nxt = cut + aligned_ref.count("-", 0, col + 1)
        if nxt == col:
            return col
        col = nxt


def around_cut_text(rows: Sequence[Allele], total_reads: int, cut: int, left: int, right: int) -> str:
    """``Alleles_frequency_table_around_...txt`` of one reference's rows (in table order): ``left`` bases
    up to and including the cut point and ``right`` after it (CRISPResso2's get_dataframe_around_cut)."""
    groups: dict[tuple[str, str, bool, int, int, int], list[float]] = {}
    for a in rows:
        col = cut_column(a.reference_sequence, cut)
        lo, hi = col - left + 1, col + right + 1
        key = (a.aligned_sequence[lo:hi], a.reference_sequence[lo:hi], a.read_status == "UNMODIFIED",
               a.n_deleted, a.n_inserted, a.n_mutated)
        pct = a.reads / total_reads * 100
        g = groups.get(key)
        if g is None:
            groups[key] = [a.reads, pct, 0.0]
        else:  # pandas' group_sum: Kahan summation in row order
            g[0] += a.reads
            y = pct - g[2]
            t = g[1] + y
            g[2] = t - g[1] - y
            g[1] = t
    order = sorted(groups, key=lambda k: (-groups[k][0], k))
    lines = ["\t".join(AROUND_COLUMNS)]
    for k in order:
        reads, pct, _ = groups[k]
        lines.append(f"{k[0]}\t{k[1]}\t{k[2]}\t{k[3]}\t{k[4]}\t{k[5]}\t{int(reads)}\t{pct!r}")
    return "\n".join(lines) + "\n"
