"""CRISPResso2's output files from an :class:`~cgtqc.seq.editing.results.EditingResult`.

The two summary tables are written byte-for-byte as CRISPResso2 2.3.4 writes them (column order,
``str()`` of Python ints and floats, 'NA' for empty rows); base-editing runs add the nucleotide
frequency and percentage tables; ``summary.json`` is cgtqc's own result document.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cgtqc.seq.editing.classify import NUCS
from cgtqc.seq.editing.results import MAPPING_COLUMNS, QUANT_COLUMNS, EditingResult, ReferenceCounts


def write_crispresso_files(result: EditingResult, out_dir: str | Path) -> list[Path]:
    """Write CRISPResso2's two summary tables and summary.json into ``out_dir``."""
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
    s = out / "summary.json"
    s.write_text(json.dumps(_jsonable(result.to_dict()), indent=2))
    files.append(s)
    return files


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
