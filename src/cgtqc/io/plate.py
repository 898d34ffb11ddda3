"""Plate-reader exports (96 and 384 wells) and layout files that map wells to sample, dose and replicate.

Two export shapes are read, both as CSV:

* **grid**: the plate as it lies on the reader, a header row ``,1,2,...,12`` (or 24) followed by rows
  ``A``..``H`` (or ``P``); instrument preamble lines before the grid are skipped;
* **long**: one row per well, a ``Well`` column and one value column (onset time, rate, OD, RFU...).

A cell that says the reaction never started (``No onset``, ``>3600``, ``NR``) is *censored*: kept apart from
the numbers so an engine can use it (a negative control that never clots is good news). An empty cell is a
missing read; text that is neither raises :class:`~cgtqc.errors.InputError` naming the file and well.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cgtqc.errors import InputError

PLATE_SHAPES: dict[int, tuple[int, int]] = {96: (8, 12), 384: (16, 24)}
"""Plate format -> (rows, columns)."""

CENSORED_TOKENS = ("no onset", "no reaction", "nr", "n/r", "no ct", "none detected", "not detected")
"""Texts (case-insensitive) meaning the kinetic reaction did not reach its threshold within the run."""

VALUE_COLUMNS = (
    "value",
    "onset",
    "onset time",
    "onsettime",
    "onset_time",
    "onset (s)",
    "rate",
    "reading",
    "od",
    "response",
    "rfu",
    "signal",
    "mean",
)
"""Column names accepted (case-insensitive) as the value column of a long export, in this order."""

_WELL_RE = re.compile(r"^\s*([A-Pa-p])\s*0*([1-9][0-9]?)\s*$")


@dataclass(frozen=True)
class PlateRead:
    """Reads of one plate: a value per well, censored wells (no onset) and the plate format."""

    path: str
    plate_format: int
    values: dict[str, float]
    censored: frozenset[str] = frozenset()
    value_name: str = "value"

    def has_read(self, well: str) -> bool:
        return well in self.values or well in self.censored


@dataclass(frozen=True)
class LayoutEntry:
    """What one well holds: its role (standard, sample, ppc, nc...), sample name, dose, replicate."""

    well: str
    role: str
    sample: str = ""
    dose: float | None = None
    replicate: int | None = None
    dilution: float = 1.0
    spike: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PlateLayout:
    """A layout file: wells mapped to their content, in file order."""

    path: str
    entries: tuple[LayoutEntry, ...]

    def by_role(self, *roles: str) -> list[LayoutEntry]:
        wanted = {r.lower() for r in roles}
        return [e for e in self.entries if e.role in wanted]


@dataclass(frozen=True)
class WellValue:
    """A layout entry joined with its read; ``value`` is None when the well is censored (no onset)."""

    entry: LayoutEntry
    value: float | None

    @property
    def censored(self) -> bool:
        return self.value is None


def normalize_well(
    text: str, plate_format: int = 384, *, file: str | Path | None = None, place: str | None = None
) -> str:
    """'a01', 'A1', ' A 01' -> 'A1'; refuse names outside the plate."""
    m = _WELL_RE.match(str(text))
    rows, cols = PLATE_SHAPES.get(plate_format, (16, 24))
    if not m:
        raise InputError(f"{text!r} is not a well name (expected e.g. A1 or H12)", file=file, place=place)
    row, col = m.group(1).upper(), int(m.group(2))
    if ord(row) - ord("A") >= rows or col > cols:
        raise InputError(f"well {row}{col} is outside a {plate_format}-well plate", file=file, place=place)
    return f"{row}{col}"


def well_index(well: str) -> tuple[int, int]:
    """Zero-based (row, column) of a normalised well name."""
    return ord(well[0]) - ord("A"), int(well[1:]) - 1


def parse_read(text: str, *, file: str | Path, place: str) -> float | None | str:
    """One cell of an export: a float, None for an empty cell, or the string 'censored'."""
    s = str(text).strip()
    if s == "":
        return None
    low = s.lower()
    if low in CENSORED_TOKENS or low.startswith(">"):
        return "censored"
    try:
        v = float(s.replace(",", "")) if re.fullmatch(r"[-+0-9.,eE]+", s) else float("nan")
    except ValueError:
        v = float("nan")
    if not math.isfinite(v):
        raise InputError(f"{s!r} is not a number", file=file, place=place)
    return v


def _rows(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InputError("file not found", file=path) from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"not a text file ({exc.reason})", file=path) from exc
    if not text.strip():
        raise InputError("file is empty", file=path)
    dialect: Any = csv.excel_tab if text.count("\t") > text.count(",") else csv.excel
    return [row for row in csv.reader(text.splitlines(), dialect)]


def _grid_header(rows: list[list[str]]) -> tuple[int, int] | None:
    """(line index, plate format) of a grid header row '', 1, 2, ... 12|24, else None."""
    for i, row in enumerate(rows):
        cells = [c.strip() for c in row]
        while cells and cells[-1] == "":
            cells.pop()
        nums = cells[1:]
        for fmt, (_, ncol) in PLATE_SHAPES.items():
            if len(nums) == ncol and nums == [str(k) for k in range(1, ncol + 1)]:
                return i, fmt
    return None


def read_plate(
    path: str | Path, *, value_column: str | None = None, plate_format: int | None = None
) -> PlateRead:
    """Read a plate-reader export (grid or long CSV) into a :class:`PlateRead`.

    ``plate_format`` (96 or 384) is inferred from the grid or from the largest well of a long export.
    Empty cells are missing reads (the well is absent from the result); censored cells are kept apart.
    """
    path = Path(path)
    rows = _rows(path)
    header = _grid_header(rows)
    values: dict[str, float] = {}
    censored: set[str] = set()
    if header is not None:
        start, fmt = header
        if plate_format is not None and plate_format != fmt:
            raise InputError(
                f"grid has {fmt} wells, expected {plate_format}", file=path, place=f"line {start + 1}"
            )
        nrow, ncol = PLATE_SHAPES[fmt]
        seen = 0
        for lineno, row in enumerate(rows[start + 1 :], start=start + 2):
            if not row or not row[0].strip():
                if seen:
                    break
                continue
            letter = row[0].strip().upper()
            if seen >= nrow or letter != chr(ord("A") + seen):
                if seen == nrow:
                    break
                raise InputError(
                    f"expected plate row {chr(ord('A') + seen)}, found {row[0]!r}",
                    file=path,
                    place=f"line {lineno}",
                )
            seen += 1
            for c in range(ncol):
                well = f"{letter}{c + 1}"
                cell = row[c + 1] if c + 1 < len(row) else ""
                v = parse_read(cell, file=path, place=f"line {lineno}, well {well}")
                if v == "censored":
                    censored.add(well)
                elif v is not None:
                    values[well] = float(v)
        if seen < nrow:
            raise InputError(
                f"grid is truncated: {seen} of {nrow} rows", file=path, place=f"line {len(rows)}"
            )
        return PlateRead(str(path), fmt, values, frozenset(censored), value_column or "value")

    head = [h.strip().lower() for h in rows[0]]
    if "well" not in head:
        raise InputError(
            "unknown plate export: neither a 1..12/1..24 grid nor a table with a 'Well' column",
            file=path,
            place="line 1",
        )
    wcol = head.index("well")
    if value_column is not None:
        if value_column.strip().lower() not in head:
            raise InputError(
                f"no column {value_column!r} (columns: {', '.join(rows[0])})", file=path, place="line 1"
            )
        vcol = head.index(value_column.strip().lower())
    else:
        found = [head.index(n) for n in VALUE_COLUMNS if n in head]
        if not found:
            raise InputError(
                f"no value column (one of: {', '.join(VALUE_COLUMNS)})", file=path, place="line 1"
            )
        vcol = found[0]
    fmt = plate_format or 384
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) <= max(wcol, vcol):
            raise InputError(
                f"row has {len(row)} fields, expected at least {max(wcol, vcol) + 1}",
                file=path,
                place=f"line {lineno}",
            )
        well = normalize_well(row[wcol], fmt, file=path, place=f"line {lineno}")
        if well in values or well in censored:
            raise InputError(f"well {well} appears twice", file=path, place=f"line {lineno}")
        v = parse_read(row[vcol], file=path, place=f"line {lineno}, well {well}")
        if v == "censored":
            censored.add(well)
        elif v is not None:
            values[well] = float(v)
    if not values and not censored:
        raise InputError("no reads in the export", file=path)
    if plate_format is None:
        fmt = (
            96
            if all(well_index(w)[0] < 8 and well_index(w)[1] < 12 for w in values.keys() | censored)
            else 384
        )
    return PlateRead(str(path), fmt, values, frozenset(censored), rows[0][vcol].strip())


_LAYOUT_NUMERIC = {
    "dose": "dose",
    "concentration": "dose",
    "conc": "dose",
    "dilution": "dilution",
    "spike": "spike",
    "replicate": "replicate",
    "rep": "replicate",
}
_LAYOUT_TEXT = {"role": "role", "type": "role", "sample": "sample", "group": "sample", "name": "sample"}


def _number(text: str, *, file: Path, place: str) -> float | None:
    s = text.strip()
    if s == "":
        return None
    try:
        v = float(s)
    except ValueError:
        raise InputError(f"{s!r} is not a number", file=file, place=place) from None
    if not math.isfinite(v):
        raise InputError(f"{s!r} is not a finite number", file=file, place=place)
    return v


def read_layout(path: str | Path, *, plate_format: int = 384) -> PlateLayout:
    """Read a layout CSV: ``Well`` plus any of Role/Type, Sample, Dose/Concentration, Replicate, Dilution,
    Spike. Other columns are kept as text in ``extra``. A role defaults to ``sample``."""
    path = Path(path)
    rows = _rows(path)
    head = [h.strip() for h in rows[0]]
    low = [h.lower() for h in head]
    if "well" not in low:
        raise InputError("layout has no 'Well' column", file=path, place="line 1")
    entries: list[LayoutEntry] = []
    seen: set[str] = set()
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) < len(head):
            row = row + [""] * (len(head) - len(row))
        fields: dict[str, Any] = {"extra": {}}
        well = ""
        for name, cell in zip(low, row, strict=False):
            place = f"line {lineno}, column {head[low.index(name)]!r}"
            if name == "well":
                well = normalize_well(cell, plate_format, file=path, place=f"line {lineno}")
            elif name in _LAYOUT_NUMERIC:
                v = _number(cell, file=path, place=place)
                key = _LAYOUT_NUMERIC[name]
                if v is not None:
                    if key == "replicate":
                        fields[key] = int(v)
                    elif key == "dilution" and v <= 0:
                        raise InputError(f"dilution must be positive, got {v:g}", file=path, place=place)
                    else:
                        fields[key] = v
            elif name in _LAYOUT_TEXT:
                fields[_LAYOUT_TEXT[name]] = cell.strip()
            else:
                fields["extra"][head[low.index(name)]] = cell.strip()
        if well in seen:
            raise InputError(f"well {well} appears twice", file=path, place=f"line {lineno}")
        seen.add(well)
        fields["role"] = (fields.get("role") or "sample").lower()
        entries.append(LayoutEntry(well=well, **fields))
    if not entries:
        raise InputError("layout lists no wells", file=path)
    return PlateLayout(str(path), tuple(entries))


def join_layout(
    plate: PlateRead, layout: PlateLayout, *, roles: tuple[str, ...] | None = None
) -> list[WellValue]:
    """Pair each layout well (optionally only some roles) with its read; a well without a read is an error."""
    out: list[WellValue] = []
    for e in layout.entries:
        if roles is not None and e.role not in roles:
            continue
        if not plate.has_read(e.well):
            raise InputError(
                f"layout well {e.well} ({e.role} {e.sample}".rstrip() + ") has no read (empty well)",
                file=plate.path,
                place=f"well {e.well}",
            )
        out.append(WellValue(e, plate.values.get(e.well)))
    return out


def write_grid(
    path: str | Path,
    reads: dict[str, float | str],
    plate_format: int = 96,
    preamble: tuple[str, ...] = (),
    fmt: str = "{:.10g}",
) -> Path:
    """Write reads as a grid export (the shape readers print); strings are written as they are."""
    path = Path(path)
    nrow, ncol = PLATE_SHAPES[plate_format]
    lines = list(preamble) + ["," + ",".join(str(c) for c in range(1, ncol + 1))]
    for r in range(nrow):
        letter = chr(ord("A") + r)
        cells = []
        for c in range(ncol):
            v = reads.get(f"{letter}{c + 1}", "")
            cells.append(v if isinstance(v, str) else fmt.format(v))
        lines.append(letter + "," + ",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_layout(path: str | Path, entries: list[LayoutEntry]) -> Path:
    """Write a layout CSV readable by :func:`read_layout`."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Well", "Role", "Sample", "Dose", "Replicate", "Dilution", "Spike"])
        for e in entries:
            w.writerow(
                [
                    e.well,
                    e.role,
                    e.sample,
                    "" if e.dose is None else repr(e.dose),
                    "" if e.replicate is None else e.replicate,
                    repr(e.dilution),
                    "" if e.spike is None else repr(e.spike),
                ]
            )
    return path


@dataclass(frozen=True)
class DoseResponseData:
    """Dose-response observations: dose, response and sample (group) per point, and where each came from."""

    dose: tuple[float, ...]
    response: tuple[float, ...]
    group: tuple[str, ...]
    places: tuple[str, ...]
    paths: tuple[str, ...]

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(self.group))

    def subset(self, group: str) -> DoseResponseData:
        idx = [i for i, g in enumerate(self.group) if g == group]
        return DoseResponseData(
            tuple(self.dose[i] for i in idx),
            tuple(self.response[i] for i in idx),
            tuple(self.group[i] for i in idx),
            tuple(self.places[i] for i in idx),
            self.paths,
        )


def read_dose_response(
    path: str | Path, *, dose: str, response: str, group: str | None = None
) -> DoseResponseData:
    """Read a long CSV with a dose column, a response column and optionally a group (sample) column."""
    path = Path(path)
    rows = _rows(path)
    head = [h.strip() for h in rows[0]]
    cols = {}
    for role, name in (("dose", dose), ("response", response), ("group", group)):
        if name is None:
            continue
        if name not in head:
            raise InputError(f"no column {name!r} (columns: {', '.join(head)})", file=path, place="line 1")
        cols[role] = head.index(name)
    d, r, g, places = [], [], [], []
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        need = max(cols.values())
        if len(row) <= need:
            raise InputError(
                f"row has {len(row)} fields, expected at least {need + 1}", file=path, place=f"line {lineno}"
            )
        dv = _number(row[cols["dose"]], file=path, place=f"line {lineno}, column {dose!r}")
        rv = _number(row[cols["response"]], file=path, place=f"line {lineno}, column {response!r}")
        if dv is None or rv is None:
            which = dose if dv is None else response
            raise InputError("empty value", file=path, place=f"line {lineno}, column {which!r}")
        if dv < 0:
            raise InputError(f"dose {dv:g} is negative", file=path, place=f"line {lineno}, column {dose!r}")
        d.append(dv)
        r.append(rv)
        g.append(row[cols["group"]].strip() if "group" in cols else "all")
        places.append(f"line {lineno}")
    if not d:
        raise InputError("no observations", file=path)
    return DoseResponseData(tuple(d), tuple(r), tuple(g), tuple(places), (str(path),))


def dose_response_from_plate(
    plate: PlateRead,
    layout: PlateLayout,
    *,
    roles: tuple[str, ...] = ("sample", "reference", "test", "standard"),
) -> DoseResponseData:
    """Dose-response data from a plate and its layout: every layout well of these roles with a dose."""
    d, r, g, places = [], [], [], []
    for wv in join_layout(plate, layout, roles=roles):
        e = wv.entry
        if e.dose is None:
            raise InputError("layout gives no dose", file=layout.path, place=f"well {e.well}")
        if wv.value is None:
            raise InputError(
                "no reading (censored) in a dose-response well", file=plate.path, place=f"well {e.well}"
            )
        d.append(e.dose)
        r.append(wv.value)
        g.append(e.sample or e.role)
        places.append(f"well {e.well}")
    if not d:
        raise InputError(f"layout has no wells with role {', '.join(roles)}", file=layout.path)
    return DoseResponseData(tuple(d), tuple(r), tuple(g), tuple(places), (plate.path, layout.path))


def read_numeric_table(
    path: str | Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> list[dict[str, float]]:
    """Rows of a CSV as floats for the named columns (case-insensitive); each row also gets '_line'."""
    path = Path(path)
    rows = _rows(path)
    head = [h.strip().lower() for h in rows[0]]
    missing = [c for c in columns if c.lower() not in head]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)} (columns: {', '.join(rows[0])})",
            file=path,
            place="line 1",
        )
    wanted = [c for c in columns + optional if c.lower() in head]
    out = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        rec: dict[str, float] = {"_line": float(lineno)}
        for c in wanted:
            i = head.index(c.lower())
            v = _number(row[i] if i < len(row) else "", file=path, place=f"line {lineno}, column {c!r}")
            if v is None:
                if c in optional:
                    continue
                raise InputError("empty value", file=path, place=f"line {lineno}, column {c!r}")
            rec[c] = v
        out.append(rec)
    if not out:
        raise InputError("no data rows", file=path)
    return out


@dataclass(frozen=True)
class GeneratedRun:
    """Paths of a simulated plate export and its layout, and the truth behind them (engine simulators)."""

    export: Path
    layout: Path
    truth: dict[str, float]


def plate_wells(plate_format: int = 96) -> Iterator[str]:
    """Well names of a plate row by row: A1, A2, ... (the order simulators fill a plate in)."""
    nrow, ncol = PLATE_SHAPES[plate_format]
    for r in range(nrow):
        for c in range(ncol):
            yield f"{chr(ord('A') + r)}{c + 1}"
