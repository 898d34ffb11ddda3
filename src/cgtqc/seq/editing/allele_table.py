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
from operator import attrgetter

from cgtqc.seq.editing.results import ALLELE_COLUMNS, Allele

AROUND_COLUMNS = ["Aligned_Sequence", "Reference_Sequence", "Unedited", "n_deleted", "n_inserted",
                  "n_mutated", "#Reads", "%Reads"]


def sorted_alleles(alleles: Sequence[Allele]) -> list[Allele]:
    """The rows in CRISPResso2's order (reads descending, then aligned and reference sequence).

    Three stable sorts on one key each (C-level key functions) give the order of the three-key sort."""
    rows = sorted(alleles, key=attrgetter("reference_sequence"))
    rows.sort(key=attrgetter("aligned_sequence"))
    rows.sort(key=attrgetter("reads"), reverse=True)  # reverse=True keeps equal keys in their order
    return rows


def _percent_texts(rows: Sequence[Allele], total_reads: int) -> dict[int, str]:
    """``repr`` of ``reads / total * 100`` (pandas' float text) per distinct read count."""
    return {n: repr(n / total_reads * 100) for n in {a.reads for a in rows}}


def allele_table_text(rows: Sequence[Allele], total_reads: int) -> str:
    """``Alleles_frequency_table.txt`` of rows already in :func:`sorted_alleles` order."""
    tail = {n: f"\t{n}\t{pct}" for n, pct in _percent_texts(rows, total_reads).items()}
    lines = ["\t".join(ALLELE_COLUMNS)]
    lines += [
        f"{a.aligned_sequence}\t{a.reference_sequence}\t{a.reference_name}\t{a.read_status}\t{a.n_deleted}\t"
        f"{a.n_inserted}\t{a.n_mutated}{tail[a.reads]}"
        for a in rows
    ]
    lines.append("")
    return "\n".join(lines)


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
    pcts = {n: n / total_reads * 100 for n in {a.reads for a in rows}}
    groups: dict[tuple[str, str, bool, int, int, int], list[float]] = {}
    get = groups.get
    for a in rows:
        ref = a.reference_sequence
        col = cut if ref.find("-", 0, cut + 1) < 0 else cut_column(ref, cut)
        lo, hi = col - left + 1, col + right + 1
        key = (a.aligned_sequence[lo:hi], ref[lo:hi], a.read_status == "UNMODIFIED", a.n_deleted,
               a.n_inserted, a.n_mutated)
        n = a.reads
        g = get(key)
        if g is None:
            groups[key] = [n, pcts[n], 0.0]
        else:  # pandas' group_sum: Kahan summation in row order
            g[0] += n
            y = pcts[n] - g[2]
            t = g[1] + y
            g[2] = t - g[1] - y
            g[1] = t
    order = sorted(groups, key=lambda k: (-groups[k][0], k))
    lines = ["\t".join(AROUND_COLUMNS)]
    for k in order:
        reads, pct, _ = groups[k]
        lines.append(f"{k[0]}\t{k[1]}\t{k[2]}\t{k[3]}\t{k[4]}\t{k[5]}\t{int(reads)}\t{pct!r}")
    lines.append("")
    return "\n".join(lines)
