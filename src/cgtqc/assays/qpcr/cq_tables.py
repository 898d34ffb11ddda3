"""Cq tables from qPCR instruments: Thermo QuantStudio results (CSV/TSV/XLSX) and Bio-Rad CFX Cq CSV.

Every reader returns :class:`CqRecord` rows (well, sample, target, task, Cq or None when the
instrument called it undetermined, quantity for standards). The layout is recognised from the header
row; an unknown layout fails naming the file and the missing columns, and a value that is not a
number fails naming the line (or sheet row) and column.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from cgtqc.assays.qpcr.rdml import RdmlDocument
from cgtqc.errors import InputError

UNDETERMINED = {"undetermined", "nan", "n/a", "na", "", "-", "no ct", "no cq", "none", "no amp"}

# instrument task words -> RDML sample types
TASKS = {
    "unknown": "unkn",
    "unkn": "unkn",
    "unk": "unkn",
    "sample": "unkn",
    "standard": "std",
    "std": "std",
    "ntc": "ntc",
    "neg ctrl": "ntc",
    "negative control": "ntc",
    "neg": "ntc",
    "negative": "ntc",
    "pos ctrl": "pos",
    "positive control": "pos",
    "pos": "pos",
    "positive": "pos",
    "nrt": "nrt",
    "-rt": "nrt",
    "no rt": "nrt",
    "nac": "nac",
    "ntp": "ntp",
    "opt": "opt",
}


@dataclass(frozen=True)
class CqRecord:
    """One well and target of a Cq table. ``cq`` is None when no amplification was called."""

    well: str
    sample: str
    target: str
    task: str = "unkn"
    cq: float | None = None
    quantity: float | None = None
    omitted: bool = False
    source: str = ""

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


# layout name -> column roles -> accepted header spellings (lower case)
_LAYOUTS: dict[str, dict[str, tuple[str, ...]]] = {
    "quantstudio": {
        "well": ("well position", "well"),
        "sample": ("sample name", "sample"),
        "target": ("target name", "target", "detector"),
        "task": ("task",),
        "cq": ("ct", "cq", "cт", "crt"),
        "quantity": ("quantity",),
        "omit": ("omit",),
    },
    "biorad_cfx": {
        "well": ("well",),
        "sample": ("sample",),
        "target": ("target",),
        "task": ("content",),
        "cq": ("cq",),
        "quantity": ("starting quantity (sq)", "sq"),
        "omit": (),
    },
}
_REQUIRED = ("well", "sample", "target", "cq")


def _match(header: list[str]) -> tuple[str, dict[str, int]] | None:
    low = [h.strip().lower() for h in header]
    for name, roles in _LAYOUTS.items():
        cols: dict[str, int] = {}
        for role, spellings in roles.items():
            for s in spellings:
                if s in low:
                    cols[role] = low.index(s)
                    break
        if name == "biorad_cfx" and "content" not in low:
            continue
        if name == "quantstudio" and "well position" not in low and "sample name" not in low:
            continue
        if all(r in cols for r in _REQUIRED):
            return name, cols
    return None


def _parse_number(text: str, path: Path, place: str, thousands: bool = False) -> float | None:
    """A number; undetermined words give None. A lone comma is a decimal comma, except that with
    ``thousands`` (quantities) a comma followed by exactly three digits groups thousands."""
    t = text.strip().replace("\u00a0", "").replace(" ", "")
    if t.lower() in UNDETERMINED:
        return None
    if t.count(",") == 1 and "." not in t and not (thousands and len(t.split(",")[1]) == 3):
        t = t.replace(",", ".")
    else:
        t = t.replace(",", "")
    try:
        value = float(t)
    except ValueError:
        raise InputError(f"{text!r} is not a number", file=path, place=place) from None
    if math.isnan(value):
        return None
    if math.isinf(value):
        raise InputError(f"{text!r} is not a finite number", file=path, place=place)
    return value


def _records(rows: list[tuple[int, list[str]]], path: Path, unit: str) -> list[CqRecord]:
    """Find the header row, then read data rows until a blank line or a new [section]."""
    header_at = None
    for k, (_, row) in enumerate(rows):
        if _match(row) is not None:
            header_at = k
            break
    if header_at is None:
        if not any(any(c.strip() for c in r) for _, r in rows):
            raise InputError("empty file", file=path)
        first = next(
            (r for _, r in rows if any(c.strip() for c in r) and not r[0].startswith(("*", "["))), []
        )
        raise InputError(
            "unknown Cq table layout: need columns for well, sample, target and Cq "
            "(QuantStudio: Well Position, Sample Name, Target Name, CT/Cq; Bio-Rad CFX: Well, Content, "
            f"Sample, Target, Cq); first header-like row has {[c for c in first if c.strip()]}",
            file=path,
        )
    layout, cols = _match(rows[header_at][1])  # type: ignore[misc]
    header = rows[header_at][1]
    out: list[CqRecord] = []
    for lineno, row in rows[header_at + 1 :]:
        if not any(c.strip() for c in row) or row[0].strip().startswith("["):
            break
        if len(row) < len(header):
            row = row + [""] * (len(header) - len(row))

        def get(role: str, row: list[str] = row) -> str:
            return row[cols[role]].strip() if role in cols else ""

        where = f"{unit} {lineno}"
        well = get("well")
        if not well:
            raise InputError("empty well name", file=path, place=where)
        cq = _parse_number(get("cq"), path, f"{where}, column {header[cols['cq']].strip()!r}")
        qty = None
        if "quantity" in cols:
            qcol = header[cols["quantity"]].strip()
            qty = _parse_number(get("quantity"), path, f"{where}, column {qcol!r}", thousands=True)
        task_word = get("task").lower()
        task = TASKS.get(task_word)
        if task is None:
            if task_word:
                raise InputError(
                    f"unknown task {get('task')!r} (known: {', '.join(sorted(TASKS))})",
                    file=path,
                    place=where,
                )
            task = "unkn"
        omitted = get("omit").lower() in ("true", "yes", "1")
        out.append(
            CqRecord(
                well=well,
                sample=get("sample"),
                target=get("target"),
                task=task,
                cq=cq,
                quantity=qty,
                omitted=omitted,
                source=layout,
            )
        )
    if not out:
        raise InputError(
            "Cq table has a header but no data rows", file=path, place=f"{unit} {rows[header_at][0]}"
        )
    return out


def read_cq_table(path: str | Path) -> list[CqRecord]:
    """Read a QuantStudio results CSV/TSV/XLSX or a Bio-Rad CFX Cq CSV; the layout is recognised."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError("empty file", file=path)
    for enc in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    if "\x00" in text:
        raise InputError("binary file, not a Cq table", file=path)
    lines = text.splitlines()
    sample = "\n".join(line for line in lines if line and not line.startswith("*"))[:4096]
    counts = {d: sample.count(d) for d in ("\t", ",", ";")}
    delimiter = max(counts, key=lambda d: counts[d])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise InputError(
            f"unreadable delimited text ({exc})", file=path, place=f"line {reader.line_num}"
        ) from None
    return _records(rows, path, "line")


def _read_xlsx(path: Path) -> list[CqRecord]:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise InputError(f"not a readable XLSX workbook ({exc})", file=path) from None
    names = wb.sheetnames
    sheet = wb["Results"] if "Results" in names else wb[names[0]]
    rows = []
    for i, row in enumerate(sheet.iter_rows(values_only=True)):
        cells = ["" if v is None else (repr(v) if isinstance(v, float) else str(v)) for v in row]
        rows.append((i + 1, cells))
    wb.close()
    return _records(rows, path, f"sheet {sheet.title!r} row")


def records_from_rdml(doc: RdmlDocument) -> list[CqRecord]:
    """Cq records of every reaction of an RDML document (the Cq the file carries)."""
    return [
        CqRecord(
            well=r.well,
            sample=r.sample,
            target=r.target,
            task=r.sample_type,
            cq=r.cq if r.cq is not None and r.cq > 0 else None,
            quantity=r.quantity,
            omitted=bool(r.excluded),
            source="rdml",
        )
        for run in doc.runs
        for r in run.reactions
    ]


def read_cq_records(path: str | Path) -> list[CqRecord]:
    """Cq records from an RDML file (.rdml/.xml) or an instrument Cq table (.csv/.tsv/.txt/.xlsx)."""
    from cgtqc.assays.qpcr.rdml import read_rdml

    if Path(path).suffix.lower() in (".rdml", ".xml"):
        return records_from_rdml(read_rdml(path))
    return read_cq_table(path)
