"""CRISPResso2 2.3.4's allele tables as text, without pandas (byte-for-byte the same table).

CRISPResso2 builds them with pandas; the same rules in plain Python cost a small fraction of the run:

* ``Alleles_frequency_table.txt``: one row per allele, ``%Reads`` = reads / all aligned reads * 100,
  rows sorted by reads (descending), then aligned sequence and reference sequence (ascending), ties in
  first-seen order (pandas' multi-key sort is stable).
* ``Alleles_frequency_table_around_<guide>.txt``: each allele of a reference cut to the bases around a cut
  point (the alignment column of the cut's reference base: the cut plus the insertion columns up to it),
  grouped by (aligned, reference, unedited, n_deleted, n_inserted, n_mutated) with reads summed and
  ``%Reads`` summed as pandas' groupby sums floats (Kahan-compensated, in table order; compiled), then
  sorted by reads, aligned and reference sequence (stable, over the groups in key order).

Numbers are written as pandas' ``to_csv`` writes them: ``str`` of ints and bools, the shortest round-trip
``repr`` of floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

from cgtqc.seq.editing.align import _kernel
from cgtqc.seq.editing.results import ALLELE_COLUMNS, Allele

AROUND_COLUMNS = ["Aligned_Sequence", "Reference_Sequence", "Unedited", "n_deleted", "n_inserted",
                  "n_mutated", "#Reads", "%Reads"]


def sorted_alleles(alleles: Sequence[Allele]) -> list[Allele]:
    """The rows in CRISPResso2's order (reads descending, then aligned and reference sequence; ties in their
    order, as pandas' stable multi-key sort), sorted by the compiled kernel."""
    return _kernel.sort_alleles(list(alleles))


def _percent_texts(rows: Sequence[Allele], total_reads: int) -> dict[int, str]:
    """``repr`` of ``reads / total * 100`` (pandas' float text) per distinct read count."""
    return {n: repr(n / total_reads * 100) for n in set(map(attrgetter("reads"), rows))}


def allele_table_bytes(rows: Sequence[Allele], total_reads: int) -> bytes:
    """``Alleles_frequency_table.txt`` (UTF-8) of rows already in :func:`sorted_alleles` order; the lines
    are joined by the compiled kernel, the few distinct ``%Reads`` texts made here."""
    tail = {n: f"\t{n}\t{pct}" for n, pct in _percent_texts(rows, total_reads).items()}
    return _kernel.allele_table_bytes(("\t".join(ALLELE_COLUMNS) + "\n").encode(), list(rows), tail)


def allele_table_text(rows: Sequence[Allele], total_reads: int) -> str:
    """``Alleles_frequency_table.txt`` of rows already in :func:`sorted_alleles` order, as text."""
    return allele_table_bytes(rows, total_reads).decode("utf-8")


def around_cut_text(rows: Sequence[Allele], total_reads: int, cut: int, left: int, right: int) -> str:
    """``Alleles_frequency_table_around_...txt`` of one reference's rows (in table order): ``left`` bases
    up to and including the cut point and ``right`` after it (CRISPResso2's get_dataframe_around_cut).

    The rows are grouped by the compiled kernel (``around_cut_groups``: the cut's alignment column, the
    slices, reads and Kahan-summed %reads per group); the few groups are sorted and written here."""
    lines = ["\t".join(AROUND_COLUMNS)]
    groups = _kernel.around_cut_groups(list(rows), cut, left, right, total_reads) if rows else []
    keyed = []
    for first, alo, ahi, rlo, rhi, reads, pct in groups:
        a = rows[first]
        key = (a.aligned_sequence[alo:ahi], a.reference_sequence[rlo:rhi], a.read_status == "UNMODIFIED",
               a.n_deleted, a.n_inserted, a.n_mutated)
        keyed.append((-reads, key, pct))
    keyed.sort(key=lambda g: (g[0], g[1]))
    for neg_reads, k, pct in keyed:
        lines.append(f"{k[0]}\t{k[1]}\t{k[2]}\t{k[3]}\t{k[4]}\t{k[5]}\t{-neg_reads}\t{pct!r}")
    lines.append("")
    return "\n".join(lines)
