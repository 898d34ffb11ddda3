"""Readers for ddPCR well tables: QuantaSoft 1.7, older QuantaSoft and QX Manager exports.

One row is one well and one target (channel). The three layouts name the same things differently
(``Target`` / ``Assay``, ``TargetType`` / ``TypeAssay``, ``AcceptedDroplets`` / ``Accepted Droplets``,
``Concentration`` / ``Conc(copies/µL)``), so columns are looked up by a normalised key and the layout
is chosen by its distinguishing columns. Cells may be empty (QuantaSoft writes metadata-only rows
when the droplet data live in amplitude files) or "No Call"; such values read as ``None``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cgtqc.assays.ddpcr.readers_text import csv_rows, header_key, parse_count, parse_number, read_text
from cgtqc.errors import InputError

# field -> accepted column keys (after header_key), first match wins
_ALIASES: dict[str, tuple[str, ...]] = {
    "well": ("well",),
    "sample": ("sample", "sampledescription1"),
    "target": ("target", "assay"),
    "target_type": ("targettype", "typeassay"),
    "dye": ("dyenames", "dyename"),
    "status": ("status",),
    "concentration": ("concentration", "conccopiesul", "conccopiespul"),
    "poisson_ci_high": ("poissonconfmax",),
    "poisson_ci_low": ("poissonconfmin",),
    "total_ci_high": ("totalconfmax",),
    "total_ci_low": ("totalconfmin",),
    "positives": ("positives",),
    "negatives": ("negatives",),
    "accepted_droplets": ("accepteddroplets",),
    "ch1p_ch2p": ("ch1+ch2+",),
    "ch1p_ch2n": ("ch1+ch2-",),
    "ch1n_ch2p": ("ch1-ch2+",),
    "ch1n_ch2n": ("ch1-ch2-",),
    "threshold": ("threshold", "threshold1"),
    "cnv": ("cnv",),
    "linked_copies_per_ul": ("copiesullinkedmolecules",),
    "poisson_cnv_high": ("poissoncnvmax",),
    "poisson_cnv_low": ("poissoncnvmin",),
    "merged_wells": ("mergedwells",),
}
_NUMERIC = (
    "concentration",
    "poisson_ci_high",
    "poisson_ci_low",
    "total_ci_high",
    "total_ci_low",
    "threshold",
    "cnv",
    "linked_copies_per_ul",
    "poisson_cnv_high",
    "poisson_cnv_low",
)
_COUNTS = ("positives", "negatives", "accepted_droplets", "ch1p_ch2p", "ch1p_ch2n", "ch1n_ch2p", "ch1n_ch2n")

# layout -> (software, columns that identify it, columns it must have)
LAYOUTS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "qx_manager": (
        "QX Manager",
        ("sampledescription1",),
        ("Well", "Target", "Conc(copies/µL)", "Accepted Droplets", "Positives", "Negatives"),
    ),
    "quantasoft_1.7": (
        "QuantaSoft 1.7",
        ("targettype",),
        ("Well", "Sample", "TargetType", "Target", "Positives", "Negatives", "AcceptedDroplets"),
    ),
    "quantasoft_old": (
        "QuantaSoft (before 1.7)",
        ("typeassay",),
        ("Well", "Sample", "TypeAssay", "Assay", "Positives", "Negatives", "AcceptedDroplets"),
    ),
}
_DYE_CHANNEL = {"fam": 1, "hex": 2, "vic": 2, "cy5": 3, "cy5.5": 4, "rox": 5}
_WELL = re.compile(r"^[A-Za-z]{1,2}\d{1,3}$")


@dataclass
class WellRecord:
    """One row of a well table: a well and a target, with what the software reported."""

    well: str
    target: str
    sample: str = ""
    channel: int | None = None
    target_type: str = ""
    dye: str = ""
    status: str = ""
    positives: int | None = None
    negatives: int | None = None
    accepted_droplets: int | None = None
    concentration: float | None = None
    poisson_ci_low: float | None = None
    poisson_ci_high: float | None = None
    total_ci_low: float | None = None
    total_ci_high: float | None = None
    ch1p_ch2p: int | None = None
    ch1p_ch2n: int | None = None
    ch1n_ch2p: int | None = None
    ch1n_ch2n: int | None = None
    threshold: float | None = None
    cnv: float | None = None
    linked_copies_per_ul: float | None = None
    poisson_cnv_low: float | None = None
    poisson_cnv_high: float | None = None
    merged_wells: str = ""
    line: int = 0

    @property
    def has_counts(self) -> bool:
        """True when the row carries droplet counts (positives and negatives)."""
        return self.positives is not None and self.negatives is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WellTable:
    """A parsed well table: its layout and rows, in file order."""

    path: str
    layout: str
    software: str
    records: list[WellRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "layout": self.layout,
            "software": self.software,
            "records": [r.to_dict() for r in self.records],
        }


def detect_table_layout(header: list[str], path: str | Path) -> str:
    """The layout of a well table from its header; InputError naming the missing columns otherwise."""
    keys = {header_key(h) for h in header}
    best: tuple[int, str, list[str]] | None = None
    for layout, (_software, markers, required) in LAYOUTS.items():
        missing = [c for c in required if header_key(c) not in keys]
        if all(m in keys for m in markers) and not missing:
            return layout
        if best is None or len(missing) < best[0]:
            best = (len(missing), layout, missing)
    assert best is not None
    _, layout, missing = best
    raise InputError(
        "not a known ddPCR export (neither a well table nor a droplet amplitude file): "
        f"closest layout {LAYOUTS[layout][0]} lacks columns "
        f"{', '.join(missing) or ', '.join(LAYOUTS[layout][1])}",
        file=path,
        place="line 1",
    )


def _channel(target_type: str, dye: str) -> int | None:
    m = re.match(r"ch(\d)", target_type.strip().lower())
    if m:
        return int(m.group(1))
    return _DYE_CHANNEL.get(dye.strip().lower())


def read_well_table(path: str | Path) -> WellTable:
    """Read a QuantaSoft or QX Manager well table; every bad cell fails with its line and column."""
    text = read_text(path)
    rows = csv_rows(text, path)
    # skip leading blank lines
    start = next((i for i, r in enumerate(rows) if any(c.strip() for c in r)), None)
    if start is None:
        raise InputError("file is empty", file=path)
    header = rows[start]
    layout = detect_table_layout(header, path)
    keys = [header_key(h) for h in header]
    index: dict[str, int] = {}
    for name, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in keys:
                index[name] = keys.index(alias)
                break
    # exports may drop empty trailing cells, so a row must only reach the columns that carry counts
    needed = max(index[k] for k in ("well", "target", "positives", "negatives", "accepted_droplets")) + 1
    table = WellTable(path=str(path), layout=layout, software=LAYOUTS[layout][0])
    for i, row in enumerate(rows[start + 1 :], start=start + 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) < needed:
            raise InputError(
                f"row has {len(row)} cells, {needed} needed to reach the droplet counts "
                f"(header has {len(header)}; truncated file?)",
                file=path,
                place=f"line {i}",
            )
        table.records.append(_record(row, index, header, path, i))
    if not table.records:
        raise InputError("well table has a header but no wells", file=path)
    return table


def _record(
    row: list[str], index: dict[str, int], header: list[str], path: str | Path, line: int
) -> WellRecord:
    def cell(name: str) -> str:
        j = index.get(name)
        return row[j].strip() if j is not None and j < len(row) else ""

    well = cell("well")
    if not _WELL.match(well):
        raise InputError(
            f"{well!r} is not a well name (e.g. A01)", file=path, place=f"line {line}, column 'Well'"
        )
    values: dict[str, Any] = {}
    for name in _NUMERIC + _COUNTS:
        j = index.get(name)
        if j is None:
            continue
        place = f"line {line}, well {well}, column {header[j].strip()!r}"
        parse = parse_count if name in _COUNTS else parse_number
        values[name] = parse(row[j] if j < len(row) else "", path, place)
    target_type, dye = cell("target_type"), cell("dye")
    rec = WellRecord(
        well=well.upper(),
        target=cell("target"),
        sample=cell("sample"),
        channel=_channel(target_type, dye),
        target_type=target_type,
        dye=dye,
        status=cell("status"),
        merged_wells=cell("merged_wells"),
        line=line,
        **values,
    )
    if (
        rec.positives is not None
        and rec.negatives is not None
        and rec.accepted_droplets is not None
        and rec.positives + rec.negatives != rec.accepted_droplets
    ):
        raise InputError(
            f"positives ({rec.positives}) + negatives ({rec.negatives}) != accepted droplets "
            f"({rec.accepted_droplets})",
            file=path,
            place=f"line {line}, well {well}",
        )
    if rec.has_counts and rec.accepted_droplets is None:
        rec.accepted_droplets = (rec.positives or 0) + (rec.negatives or 0)
    return rec
