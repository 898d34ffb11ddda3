"""CRISPResso2's output files from an :class:`~cgtqc.seq.editing.results.EditingResult`.

The two summary tables are written byte-for-byte as CRISPResso2 2.3.4 writes them (column order,
``str()`` of Python ints and floats, 'NA' for empty rows); base-editing runs add the nucleotide
frequency and percentage tables; ``summary.json`` is cgtqc's own result document.

When the result holds its allele table (``quantify(alleles=True)``, as ``cgtqc editing quantify`` asks),
``Alleles_frequency_table.zip`` (one ``Alleles_frequency_table.txt``) and, per reference and guide,
``<prefix>Alleles_frequency_table_around_sgRNA_<guide>.txt`` are written with CRISPResso2 2.3.4's
columns, rules (window counts, MODIFIED/UNMODIFIED, ambiguous reads once as AMBIGUOUS_<reference>,
reverse complements merged, %Reads of all aligned reads, 20 bp each side of the cut for the around-sgRNA
tables) and pandas' sorting and number format (:mod:`.allele_table`). The tables' text is byte-identical to
CRISPResso2's in the benchmark runs; the zip's own bytes (dates) differ from any other run in any case.
"""

from __future__ import annotations

import gc
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np

from cgtqc.seq.editing.allele_table import allele_table_bytes, around_cut_text, sorted_alleles
from cgtqc.seq.editing.classify import NUCS
from cgtqc.seq.editing.results import (
    MAPPING_COLUMNS,
    QUANT_COLUMNS,
    EditingResult,
    ReferenceCounts,
)

PLOT_WINDOW_SIZE = 20  # CRISPResso2's --plot_window_size: bases each side of the cut in the around tables
# zlib level of Alleles_frequency_table.zip: 1 compresses ~2.5x faster than CRISPResso2's default (6), for a
# ~2x larger file (0.6 MB at 35,000 alleles); the zip's bytes differ from run to run anyway (dates)
ZIP_LEVEL = 1


def write_crispresso_files(result: EditingResult, out_dir: str | Path) -> list[Path]:
    """Write CRISPResso2's two summary tables and summary.json into ``out_dir``.

    The cyclic garbage collector is paused meanwhile: the tables make ~10^5 acyclic rows and strings, whose
    repeated generation scans would cost more than writing them; reference counting still frees them."""
    was = gc.isenabled()
    gc.disable()
    try:
        return _write_files(result, out_dir)
    finally:
        if was:
            gc.enable()


def _write_files(result: EditingResult, out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    q = out / "CRISPResso_quantification_of_editing_frequency.txt"
    with open(q, "w") as fh:
        fh.write("\t".join(QUANT_COLUMNS) + "\n")
        for row in result.quantification_rows():
            fh.write("\t".join(str(x) for x in row) + "\n")
    m = out / "CRISPResso_mapping_statistics.txt"
    with open(m, "w") as fh:
        fh.write("\t".join(MAPPING_COLUMNS) + "\n")
        fh.write("\t".join(str(x) for x in result.mapping_row()) + "\n")
    files = [q, m]
    for prefix, r in _plot_names(result.references):
        if r.base_counts is None or r.reads_aligned < 1:
            continue
        files.append(_write_table(out / f"{prefix}Nucleotide_frequency_table.txt", r, 1))
        files.append(_write_table(out / f"{prefix}Nucleotide_percentage_table.txt", r, r.reads_aligned))
    if result.alleles is not None:
        files += write_allele_tables(result, out)
    s = out / "summary.json"
    s.write_text(json.dumps(_jsonable(result.to_dict()), indent=2))
    files.append(s)
    return files


def write_allele_tables(result: EditingResult, out_dir: str | Path) -> list[Path]:
    """CRISPResso2's allele table (zipped) and its around-sgRNA tables, from ``result.alleles``.

    The zip is compressed in a second thread while the around-sgRNA tables are made (zlib lets go of
    the interpreter), at :data:`ZIP_LEVEL`: the table inside is CRISPResso2's, byte for byte."""
    out = Path(out_dir)
    rows = sorted_alleles(result.alleles or [])
    total = result.reads_aligned_all_amplicons
    z = out / "Alleles_frequency_table.zip"
    with ThreadPoolExecutor(1) as pool:
        zipped = pool.submit(_write_zip, z, "Alleles_frequency_table.txt", allele_table_bytes(rows, total))
        files = [z]
        names = set(map(attrgetter("reference_name"), rows))
        for prefix, r in _plot_names(result.references):
            ref_rows = rows if names == {r.name} else [a for a in rows if a.reference_name == r.name]
            if not ref_rows:
                continue
            for cut, guide in result.allele_cuts.get(r.name, []):
                if cut + PLOT_WINDOW_SIZE + 1 > len(r.sequence):
                    continue  # CRISPResso2 refuses a window past the amplicon's end (and writes no table)
                path = out / f"{prefix}Alleles_frequency_table_around_sgRNA_{guide}.txt"
                path.write_text(around_cut_text(ref_rows, total, cut, PLOT_WINDOW_SIZE, PLOT_WINDOW_SIZE))
                files.append(path)
        zipped.result()
    return files


def _write_zip(path: Path, name: str, text: bytes) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as zf:
        zf.writestr(name, text)


def _plot_names(refs: list[ReferenceCounts]) -> list[tuple[str, ReferenceCounts]]:
    """CRISPResso2's file prefixes: none for a lone 'Reference', else the name (21 characters) and a dot."""
    if len(refs) == 1 and refs[0].name == "Reference":
        return [("", refs[0])]
    seen: set[str] = set()
    out = []
    for r in refs:
        base = r.name[:21]
        name, k = base, 2
        while name + "." in seen:
            name = f"{base}_{k}"
            k += 1
        seen.add(name + ".")
        out.append((name + ".", r))
    return out


def _write_table(path: Path, r: ReferenceCounts, divisor: int) -> Path:
    """Per-position base counts (divisor 1) or fractions of aligned reads, in CRISPResso2's layout."""
    assert r.base_counts is not None
    with open(path, "w") as fh:
        fh.write("\t" + "\t".join(r.sequence) + "\n")
        for i, nuc in enumerate(NUCS):
            fh.write(nuc + "\t" + "\t".join(str(float(v) / divisor) for v in r.base_counts[i]) + "\n")
    return path


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.generic):
        return o.item()
    return o
