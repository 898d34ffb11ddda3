"""Read a lab's CSV export into columns, naming the file, line and column of anything that cannot be used.

Column names come from the caller (``--value-col`` and friends), so any export works. Numbers may carry
thousands separators (``1,234.5`` in a quoted cell); empty cells are missing values and refused where a
number is needed. Lines are counted as in a text editor: the header is line 1.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cgtqc.errors import InputError


@dataclass(frozen=True)
class Table:
    """Columns of a CSV as strings, with the file line of each row (for error messages)."""

    path: str
    columns: dict[str, list[str]]
    lines: list[int]

    def __len__(self) -> int:
        return len(self.lines)

    def has(self, name: str) -> bool:
        return name in self.columns

    def text(self, name: str) -> list[str]:
        self._need(name)
        return self.columns[name]

    def numbers(self, name: str, allow_missing: bool = False) -> np.ndarray:
        """A column as float64; a cell that is not a finite number raises with its line and column.

        With ``allow_missing`` an empty cell is NaN (a lot without that result)."""
        self._need(name)
        out = np.empty(len(self), dtype=np.float64)
        for i, (cell, line) in enumerate(zip(self.columns[name], self.lines, strict=True)):
            out[i] = (
                np.nan if allow_missing and not cell.strip() else parse_number(cell, self.path, line, name)
            )
        return out

    def _need(self, name: str) -> None:
        if name not in self.columns:
            known = ", ".join(repr(c) for c in self.columns) or "none"
            raise InputError(f"no column {name!r} (columns: {known})", file=self.path)


_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d*)?$")


def parse_number(cell: str, path: str | None, line: int, column: str) -> float:
    text = cell.strip()
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    place = f"line {line}, column {column!r}"
    if text == "":
        raise InputError("empty cell where a number is needed", file=path, place=place)
    try:
        v = float(text)
    except ValueError:
        raise InputError(f"{cell.strip()!r} is not a number", file=path, place=place) from None
    if not np.isfinite(v):
        raise InputError(f"{cell.strip()!r} is not a finite number", file=path, place=place)
    return v


def read_table(path: str | Path, text: str | None = None) -> Table:
    """Read a CSV file (or ``text`` given as if it were that file); comma, semicolon or tab separated."""
    p = str(path)
    if text is None:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", file=p) from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header: list[str] | None = None
    cols: dict[str, list[str]] = {}
    lines: list[int] = []
    for row in reader:
        line = reader.line_num
        if not any(c.strip() for c in row):
            continue
        if header is None:
            header = [c.strip() for c in row]
            dup = {c for c in header if header.count(c) > 1 and c}
            if dup:
                raise InputError(f"duplicate column {sorted(dup)[0]!r}", file=p, place=f"line {line}")
            cols = {c: [] for c in header}
            continue
        if len(row) > len(header) and any(c.strip() for c in row[len(header) :]):
            raise InputError(
                f"{len(row)} cells but the header has {len(header)} columns", file=p, place=f"line {line}"
            )
        row = row + [""] * (len(header) - len(row))
        for name, cell in zip(header, row, strict=False):
            cols[name].append(cell)
        lines.append(line)
    if header is None:
        raise InputError("empty file: no header row", file=p)
    return Table(p, cols, lines)


def from_columns(columns: dict[str, list], source: str = "store") -> Table:
    """A Table from in-memory columns (values read from the store), lines numbered as rows from 2."""
    n = len(next(iter(columns.values()))) if columns else 0
    return Table(source, {k: [str(v) for v in vals] for k, vals in columns.items()}, list(range(2, n + 2)))
