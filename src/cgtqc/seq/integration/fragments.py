"""Reader of site/fragment tables: one row per sonic fragment (site id, fragment length[, replicate]).

CSV or TSV (by suffix ``.tsv``/``.tab``, else by a tab in the header). Columns are found by name; the
defaults accept sonicLength's ``locations``, ``lengths``, ``replicates`` and the plain singulars. Every bad
input is one ``InputError`` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from cgtqc.errors import InputError

SITE_NAMES = ("site", "sites", "locations", "location", "site_id", "integration_site")
LENGTH_NAMES = ("length", "lengths", "fragment_length", "width")
REPLICATE_NAMES = ("replicate", "replicates", "rep", "sample")


@dataclass(frozen=True)
class Fragments:
    """The fragments of one table; ``replicates`` is None when the table has no replicate column."""

    path: str
    sites: list[str]
    lengths: list[int]
    replicates: list[str] | None


def _column(
    header: list[str], wanted: str | None, defaults: tuple[str, ...], what: str, path: Path
) -> int | None:
    """Index of the requested column (or of the first default present); None if optional and absent."""
    lowered = [h.strip().lower() for h in header]
    names = (wanted,) if wanted is not None else defaults
    for name in names:
        if name.strip().lower() in lowered:
            return lowered.index(name.strip().lower())
    if wanted is None and what == "replicate":
        return None
    raise InputError(
        f"no {what} column {' or '.join(repr(n) for n in names)} (columns: {', '.join(header)})",
        file=path,
        place="line 1",
    )


def _length(text: str, path: Path, line: int, col: str) -> int:
    place = f"line {line}, column {col!r}"
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{text!r} is not a number", file=path, place=place) from None
    if not (math.isfinite(value) and value > 0 and value == round(value)):
        raise InputError(f"fragment length {text!r} must be a positive whole number", file=path, place=place)
    return int(value)


def read_fragments(
    path: str | Path,
    site_col: str | None = None,
    length_col: str | None = None,
    replicate_col: str | None = None,
) -> Fragments:
    """Read a site/fragment table; read counts, if present, are ignored (they are no abundance)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=path) from None
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", file=path) from None
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise InputError("empty file", file=path)
    tab = path.suffix.lower() in (".tsv", ".tab") or "\t" in lines[0]
    try:
        rows = list(csv.reader(lines, delimiter="\t" if tab else ","))
    except csv.Error as exc:
        raise InputError(f"not a readable table: {exc}", file=path) from None
    header = [h.strip() for h in rows[0]]
    si = _column(header, site_col, SITE_NAMES, "site", path)
    li = _column(header, length_col, LENGTH_NAMES, "length", path)
    ri = _column(header, replicate_col, REPLICATE_NAMES, "replicate", path)
    assert si is not None and li is not None
    needed = max(i for i in (si, li, ri) if i is not None) + 1
    sites: list[str] = []
    lengths: list[int] = []
    reps: list[str] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(f.strip() for f in row):
            continue
        if len(row) < needed:
            raise InputError(
                f"truncated line: {len(row)} of {len(header)} fields", file=path, place=f"line {line}"
            )
        site = row[si].strip()
        if not site:
            raise InputError("empty site id", file=path, place=f"line {line}, column {header[si]!r}")
        sites.append(site)
        lengths.append(_length(row[li].strip(), path, line, header[li]))
        if ri is not None:
            reps.append(row[ri].strip())
    if not sites:
        raise InputError("no fragment rows after the header", file=path)
    return Fragments(str(path), sites, lengths, reps if ri is not None else None)
